"""The published contracts: JSON Schemas at their $id paths, the AsyncAPI document (issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["contracts"])
