"""Load the mdx JSON Schemas (schemas/**/*.schema.json) and validate instances against them.

The schema files are the one source of truth: the envelope `type` -> data schema mapping is
read from the envelope schema, never retyped here. Validators are compiled once per
SchemaSet; build one per process and share it.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsonschema_rs

from mdx.core.identifiers import imo_is_valid

# services/mdx/core/schemas.py -> <repo>/schemas
SCHEMA_DIR: Final = Path(__file__).resolve().parents[3] / "schemas"

ID_BASE: Final = "https://mdx.example/schemas/"
DEFS_SCHEMA_ID: Final = ID_BASE + "common/v1/defs.schema.json"
ENVELOPE_SCHEMA_ID: Final = ID_BASE + "envelope/v1/envelope.schema.json"
POSITION_SCHEMA_ID: Final = ID_BASE + "position/v1/position.schema.json"
INCIDENT_SCHEMA_ID: Final = ID_BASE + "incident/v1/incident.schema.json"
RECEIPT_SCHEMA_ID: Final = ID_BASE + "receipt/v1/receipt.schema.json"
DEADLETTER_SCHEMA_ID: Final = ID_BASE + "deadletter/v1/deadletter.schema.json"
SAR_SCHEMA_ID: Final = ID_BASE + "sar/v1/sar.schema.json"
STATUS_SCHEMA_ID: Final = ID_BASE + "status/v1/status.schema.json"
ZONE_SCHEMA_ID: Final = ID_BASE + "zone/v1/zone.schema.json"
VESSEL_SCHEMA_ID: Final = ID_BASE + "vessel/v1/vessel.schema.json"

# Custom formats the schemas use; jsonschema-rs ignores unknown formats, so every one must be here.
FORMATS: Final = {"mdx-imo": imo_is_valid}

# Messages embed the offending value, which may be large; keep a Violation one short line.
_MAX_MESSAGE: Final = 300
# Keywords whose value maps names to subschemas: a `false` under them is not a keyword itself.
_SCHEMA_MAPS: Final = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_COMBINATORS: Final = (
    jsonschema_rs.ValidationErrorKind.OneOfNotValid,
    jsonschema_rs.ValidationErrorKind.AnyOf,
)


@dataclass(frozen=True, slots=True, order=True)
class Violation:
    """One broken schema rule, named as precisely as the validator allows."""

    path: str  # JSON pointer into the instance, "" for the root
    keyword: str  # the failing JSON Schema keyword
    schema_path: str  # JSON pointer into the schema (through $ref), i.e. the keyword location
    message: str

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message} (rule {self.keyword} at {self.schema_path})"


class SchemaSet:
    """Every `*.schema.json` under a directory, compiled once, validated by `$id`."""

    def __init__(self, schema_dir: Path | str = SCHEMA_DIR) -> None:
        self._dir = Path(schema_dir)
        self._schemas: dict[str, dict[str, Any]] = {}
        for file in sorted(self._dir.rglob("*.schema.json")):
            schema = json.loads(file.read_text(encoding="utf-8"))
            schema_id = schema.get("$id") if isinstance(schema, dict) else None
            if not isinstance(schema_id, str):
                raise ValueError(f"{file}: a schema file needs a string $id")
            if schema_id in self._schemas:
                raise ValueError(f"{file}: duplicate $id {schema_id}")
            self._schemas[schema_id] = schema
        if ENVELOPE_SCHEMA_ID not in self._schemas:
            raise ValueError(f"{self._dir}: no envelope schema ({ENVELOPE_SCHEMA_ID})")
        # All refs resolve inside the registry; jsonschema-rs never fetches by default.
        registry = jsonschema_rs.Registry(list(self._schemas.items()))
        self._validators = {
            schema_id: jsonschema_rs.validator_for(
                schema, registry=registry, validate_formats=True, formats=FORMATS
            )
            for schema_id, schema in self._schemas.items()
        }
        self._data_schemas = _types_to_data_schemas(self._schemas[ENVELOPE_SCHEMA_ID])

    @property
    def ids(self) -> tuple[str, ...]:
        """The `$id`s of all loaded schemas, sorted."""
        return tuple(sorted(self._schemas))

    @property
    def data_schemas(self) -> dict[str, str]:
        """Envelope `type` -> `$id` of the schema its `data` follows (from the envelope schema)."""
        return dict(self._data_schemas)

    def schema(self, schema_id: str) -> dict[str, Any]:
        """A copy of the schema document with this `$id`."""
        return copy.deepcopy(self._schemas[schema_id])

    def enum(self, schema_id: str, *path: str) -> tuple[Any, ...]:
        """The `enum` found at `path` in the schema `schema_id`: a lookup without copying the
        document (what a request may afford)."""
        node = self._schemas[schema_id]
        for key in path:
            node = node[key]
        return tuple(node["enum"])

    def validate(self, schema_id: str, instance: object) -> list[Violation]:
        """All violations of `instance` against the schema `schema_id`, sorted; [] if valid."""
        try:
            validator = self._validators[schema_id]
        except KeyError:
            raise KeyError(f"no schema with $id {schema_id!r}; loaded: {self.ids}") from None
        if validator.is_valid(instance):  # the common case, and cheaper than iter_errors
            return []
        found = {v for error in validator.iter_errors(instance) for v in _violations(error)}
        return sorted(found)

    def validate_envelope(self, envelope: object) -> list[Violation]:
        """All violations of a CloudEvents envelope, including those of its `data`."""
        return self.validate(ENVELOPE_SCHEMA_ID, envelope)


def data_schema_for_types(schema_set: SchemaSet) -> dict[str, str]:
    """Envelope `type` -> `$id` of its data schema, e.g. for a TYPE_TO_SCHEMA constant."""
    return schema_set.data_schemas


@functools.cache
def envelope_data_schemas(schema_dir: Path = SCHEMA_DIR) -> dict[str, str]:
    """Envelope `type` -> data schema `$id`, read once from the envelope schema file alone
    (cheaper than a SchemaSet, for code that only builds envelopes)."""
    path = schema_dir / "envelope" / "v1" / "envelope.schema.json"
    return _types_to_data_schemas(json.loads(path.read_text(encoding="utf-8")))


def _types_to_data_schemas(envelope_schema: Mapping[str, Any]) -> dict[str, str]:
    """Read the mapping from the envelope schema's `allOf` of if type / then dataschema."""
    mapping: dict[str, str] = {}
    for branch in envelope_schema.get("allOf", []):
        event_type = branch["if"]["properties"]["type"]["const"]
        mapping[event_type] = branch["then"]["properties"]["dataschema"]["const"]
    return mapping


def _violations(error: jsonschema_rs.ValidationError) -> Iterator[Violation]:
    """The leaf violations behind one error: oneOf/anyOf are opened to their best branch."""
    kind = error.kind
    if isinstance(kind, _COMBINATORS):
        branch = _best_branch(error.instance_path, kind.context)
        if branch is not None:
            for inner in branch:
                yield from _violations(inner)
            return
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    yield Violation(
        path=_pointer(error.instance_path),
        keyword=_keyword(error),
        schema_path=_pointer(error.evaluation_path),
        message=message,
    )


def _best_branch(
    here: Sequence[str | int], branches: list[list[jsonschema_rs.ValidationError]]
) -> list[jsonschema_rs.ValidationError] | None:
    """The branch the instance was evidently meant for, or None if no branch fits.

    A branch is ruled out when the instance has the wrong JSON type for it, or a direct
    member fails a `const` (a discriminator such as GeoJSON's "type": "Point"). Of the rest,
    the one with the fewest errors wins; ties go to the first listed.
    """
    depth = len(here)

    def ruled_out(error: jsonschema_rs.ValidationError) -> bool:
        name, at = error.kind.name, len(error.instance_path)
        return (name == "type" and at == depth) or (name == "const" and at == depth + 1)

    fitting = [b for b in branches if b and not any(ruled_out(e) for e in b)]
    return min(fitting, key=len) if fitting else None


def _keyword(error: jsonschema_rs.ValidationError) -> str:
    name = error.kind.name
    if name != "falseSchema":
        return name
    # A `false` subschema: report the keyword holding it (items, additionalProperties, ...).
    segments = error.evaluation_path
    last = segments[-1] if segments else None
    if isinstance(last, str) and (len(segments) == 1 or segments[-2] not in _SCHEMA_MAPS):
        return last
    return "false"


def _pointer(segments: Sequence[str | int]) -> str:
    """RFC 6901 JSON pointer from path segments."""
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in segments)
