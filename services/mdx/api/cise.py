"""EU CISE data-model XML of incidents and vessels (being built: issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/cise", tags=["cise"])
