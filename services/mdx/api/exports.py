"""Downloads of a filtered selection as GeoJSON, CSV or KML (being built: issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
