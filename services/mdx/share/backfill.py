"""Backfill: fetch from a partner's feed what its stream to us should have brought.

Run after a gap has stood for a while (a seq missing while later ones arrived) and at a steady
interval (which also catches a stream whose tail was lost, where no later seq shows the gap).
Requests are signed with this node's key (mdx.core.fedauth); the messages come back sealed as
on the bridge and go through the same checks.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import orjson

from mdx.core import fedauth
from mdx.core.keys import NodeKeys
from mdx.core.settings import PartnerSection

log = logging.getLogger("mdx.share.backfill")
# httpx logs every request at INFO; a backfill round every few seconds would drown the log.
logging.getLogger("httpx").setLevel(logging.WARNING)

PAGE = 500


@functools.cache
def _http() -> httpx.Client:
    """One client for the process: each new one builds a TLS context (~20 ms of CPU, holding
    the GIL the share service's other threads need) and opens new connections."""
    return httpx.Client()


@dataclass(frozen=True, slots=True)
class Page:
    head: int
    messages: list[bytes]
    last_seq: int  # of the last message, or `since` when there was none


def fetch(partner: PartnerSection, keys: NodeKeys, since: int, timeout: float = 10.0) -> Page:
    """One page of `partner`'s stream to us after `since`."""
    url = f"{partner.api_url.rstrip('/')}/federation/v1/feed?since={since}&limit={PAGE}"
    path_qs = urlsplit(url).path + "?" + urlsplit(url).query
    auth = fedauth.sign_request("GET", path_qs, keys.node_id, partner.id, keys.private, time.time())
    response = _http().get(url, headers={"Authorization": auth}, timeout=timeout)
    response.raise_for_status()
    body = orjson.loads(response.content)
    messages = body["messages"]
    last = int(messages[-1]["seq"]) if messages else since
    return Page(int(body["head"]), [orjson.dumps(m) for m in messages], last)
