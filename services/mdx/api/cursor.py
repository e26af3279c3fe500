"""Opaque pagination cursors: base64url of the keyset of the last item of a page.

Keyset, not offset, so a page stays correct while new items arrive and costs the same at
page 1 and page 1,000.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import orjson

from mdx.api.problems import InvalidParameter, param_error


def encode(*keys: str | int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(keys))).rstrip(b"=").decode()


def _decode(cursor: str) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        keys = orjson.loads(raw)
    except (binascii.Error, ValueError) as e:
        raise _bad(cursor, str(e)) from None
    if not isinstance(keys, list):
        raise _bad(cursor, "not a keyset")
    return keys


def decode_time_uuid(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (timestamp, id) keyset of a cursor made by `encode(ts.isoformat(), str(id))`."""
    keys = _decode(cursor)
    if len(keys) == 2 and isinstance(keys[0], str) and isinstance(keys[1], str):
        try:
            ts, id_ = datetime.fromisoformat(keys[0]), uuid.UUID(keys[1])
        except ValueError:
            pass
        else:
            if ts.tzinfo is not None:
                return ts, id_
    raise _bad(cursor, "not a (time, id) keyset")


def decode_int(cursor: str) -> int:
    keys = _decode(cursor)
    if len(keys) != 1 or not isinstance(keys[0], int) or isinstance(keys[0], bool):
        raise _bad(cursor, "not an (id) keyset")
    return keys[0]


def _bad(cursor: str, why: str) -> InvalidParameter:
    return InvalidParameter(
        "cursor is not one this server issued; use the `next` link of the previous page",
        errors=[param_error("cursor", cursor, why)],
    )
