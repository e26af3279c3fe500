"""RFC 8785 (JSON Canonicalization Scheme) bytes, what every mdx signature is made over.

`rfc8785` is the reference, but pure Python: ~45 us for one envelope, four times per shared
item (the origin's signature and the message's, made at one end and checked at the other).
For the values mdx signs, orjson with sorted keys writes the same bytes: keys in ASCII (whose
byte order is JCS's UTF-16 order), strings (escaped as JCS escapes them), integers within
I-JSON's +-(2^53 - 1), and finite floats that are not whole numbers, of magnitude 1e-4 or
more. A whole float is written as JCS writes it (no ".0") by passing it as the integer it
equals. Anything else (a non-ASCII key, a whole float beyond 2^53, a smaller float, a value JCS
refuses) goes to `rfc8785` itself.
tests/unit/test_jcs.py checks the two agree on generated JSON of every shape.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import rfc8785

_SAFE = 2**53 - 1
# Below this magnitude orjson and JCS may write a float differently (measured: every
# 1e-6 <= |x| < 1e-5, orjson with an exponent): rfc8785 writes those.
_DECIMAL_FROM = 1e-4


class _NotPlain(Exception):
    """A value orjson might write otherwise than JCS."""


def dumps(value: Any) -> bytes:
    """The JCS bytes of `value`; rfc8785.CanonicalizationError for what JCS cannot represent."""
    try:
        return orjson.dumps(_plain(value), option=orjson.OPT_SORT_KEYS)
    except (_NotPlain, orjson.JSONEncodeError):
        return rfc8785.dumps(value)


def _plain(value: Any) -> Any:
    """`value` with whole floats as ints; _NotPlain where orjson might differ from JCS."""
    if isinstance(value, str) or value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        if -_SAFE <= value <= _SAFE:
            return value
        raise _NotPlain
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotPlain
        if value.is_integer():
            if -_SAFE <= value <= _SAFE:
                return int(value)
            raise _NotPlain
        if abs(value) < _DECIMAL_FROM:
            raise _NotPlain  # orjson writes 1e-6 <= |x| < 1e-5 with an exponent, JCS without
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not (isinstance(key, str) and key.isascii()):
                raise _NotPlain
            out[key] = _plain(item)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise _NotPlain
