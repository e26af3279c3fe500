"""The vocabularies that query parameters and bodies are declared with, read once from the
schema files (their one definition) when the API is imported: the OpenAPI document is built
from them before any request."""

from __future__ import annotations

from mdx.core.schemas import (
    DEFS_SCHEMA_ID,
    INCIDENT_SCHEMA_ID,
    SAR_SCHEMA_ID,
    ZONE_SCHEMA_ID,
    SchemaSet,
)

_SCHEMAS = SchemaSet()
_DEFS = _SCHEMAS.schema(DEFS_SCHEMA_ID)["$defs"]

INCIDENT_SCHEMA = _SCHEMAS.schema(INCIDENT_SCHEMA_ID)
SAR_SCHEMA = _SCHEMAS.schema(SAR_SCHEMA_ID)
CATEGORIES = frozenset(INCIDENT_SCHEMA["properties"]["category"]["enum"])
STATUSES = frozenset(INCIDENT_SCHEMA["properties"]["status"]["enum"])
TLPS = frozenset(_DEFS["tlp"]["enum"])
PURPOSES = frozenset(_DEFS["purpose"]["enum"])
ZONE_KINDS = frozenset(
    _SCHEMAS.schema(ZONE_SCHEMA_ID)["properties"]["properties"]["properties"]["kind"]["enum"]
)
