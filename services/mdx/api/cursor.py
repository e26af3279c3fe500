"""Pagination cursors: the keyset of the last item of a page, written so that a pattern in the
OpenAPI document admits exactly the cursors this server can read.

Keyset, not offset, so a page stays correct while new items arrive and costs the same at
page 1 and page 1,000. Clients treat a cursor as opaque and take it from a `next` link.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from mdx.api.problems import InvalidParameter, param_error

# (observed_at in microseconds since 1970 UTC, item UUID as 32 hex digits).
TIME_UUID = r"^-?[0-9]{1,16}\.[0-9a-f]{32}$"
# A row's sequence number (bigint).
SEQ = r"^[0-9]{1,18}$"

_TIME_UUID, _SEQ = re.compile(TIME_UUID), re.compile(SEQ)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def time_uuid(at: datetime, item: uuid.UUID) -> str:
    return f"{(at - _EPOCH) // _MICROSECOND}.{item.hex}"


def decode_time_uuid(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (time, id) keyset of a `time_uuid` cursor."""
    if not _TIME_UUID.match(cursor):
        raise _bad(cursor, "not a (time, id) keyset")
    micros, _, item = cursor.partition(".")
    try:
        return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(hex=item)
    except (ValueError, OverflowError) as e:
        raise _bad(cursor, str(e)) from None


def seq(last: int) -> str:
    return str(last)


def decode_seq(cursor: str) -> int:
    if not _SEQ.match(cursor):
        raise _bad(cursor, "not a sequence number")
    return int(cursor)


def _bad(cursor: str, why: str) -> InvalidParameter:
    return InvalidParameter(
        "cursor is not one this server issued; use the `next` link of the previous page",
        errors=[param_error("cursor", cursor, why)],
    )
