"""OGC API - Features at /ogcapi/ (being built: issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/ogcapi", tags=["ogcapi"])
