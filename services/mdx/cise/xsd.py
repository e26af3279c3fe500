"""The CISE XML Schemas (schemas/cise/, unchanged EC JRC files) loaded into lxml validators.

libxml2 cannot read the files as published, for two reasons Xerces (the CISE reference stack's
parser) tolerates: four files include themselves, and each namespace is spread over several
files imported one at a time, of which libxml2 keeps only the first import. So this module
serves the files to libxml2 through an lxml resolver that, in memory: drops each file's
include of itself, and points every import of a namespace at one generated document that
includes all the files of that namespace. The files on disk stay byte for byte the published
ones; nothing else changes.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Final

from lxml import etree

CISE_DIR: Final = Path(__file__).resolve().parents[3] / "schemas" / "cise"
DATA_MODEL_DIR: Final = CISE_DIR / "data-model-xsd"
SERVICE_MODEL_DIR: Final = CISE_DIR / "service-model-xsd"
MESSAGE_NS: Final = "http://www.cise.eu/servicemodel/v1/message/"

_TARGET_NS = re.compile(rb'targetNamespace="([^"]+)"')
_IMPORT = re.compile(rb'<xs:import namespace="([^"]+)" schemaLocation="[^"]+"\s*/>')
# Where the generated per-namespace documents live: a path no real file has.
_HUB_DIR = "/mdx-cise-namespaces/"


def _hubs(folders: tuple[Path, ...]) -> dict[str, tuple[str, bytes]]:
    """Namespace -> (URL, document including every file of that namespace)."""
    files: dict[str, list[Path]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.xsd")):
            found = _TARGET_NS.search(path.read_bytes())
            if found:
                files.setdefault(found.group(1).decode(), []).append(path)
    hubs = {}
    for number, (namespace, paths) in enumerate(sorted(files.items())):
        includes = "".join(f'<xs:include schemaLocation="{p}"/>' for p in paths)
        document = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            f'targetNamespace="{namespace}">{includes}</xs:schema>'
        )
        hubs[namespace] = (f"{_HUB_DIR}{number}.xsd", document.encode())
    return hubs


class _Resolver(etree.Resolver):  # type: ignore[misc]  # lxml-stubs type it as Any
    def __init__(self, hubs: dict[str, tuple[str, bytes]]) -> None:
        super().__init__()
        self._hubs = hubs
        self._by_url = dict(hubs.values())

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        path = system_url.removeprefix("file://").removeprefix("file:")
        if path in self._by_url:
            return self.resolve_string(self._by_url[path], context, base_url=path)
        if not path.endswith(".xsd"):
            return None
        text = Path(path).read_bytes()
        itself = f'<xs:include schemaLocation="{Path(path).name}"/>'.encode()
        text = text.replace(itself, b"")
        text = _IMPORT.sub(self._to_hub, text)
        return self.resolve_string(text, context, base_url=path)

    def _to_hub(self, found: re.Match[bytes]) -> bytes:
        namespace = found.group(1).decode()
        if namespace not in self._hubs:
            return found.group(0)
        hub = self._hubs[namespace][0]
        return f'<xs:import namespace="{namespace}" schemaLocation="{hub}"/>'.encode()


def _load(document: str, base: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Resolver(_hubs((DATA_MODEL_DIR, SERVICE_MODEL_DIR))))
    return etree.XMLSchema(etree.fromstring(document.encode(), parser, base_url=str(base)))


@cache
def message_schema() -> etree.XMLSchema:
    """The service model's messages with the data model's types: a Push whose payload entities
    name their type (`xsi:type`) is validated down to every entity field."""
    return _load(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:import namespace="{MESSAGE_NS}" '
        f'schemaLocation="{SERVICE_MODEL_DIR / "message.xsd"}"/>'
        f'<xs:include schemaLocation="{DATA_MODEL_DIR / "EntitySchema.xsd"}"/>'
        "</xs:schema>",
        DATA_MODEL_DIR / "mdx-message-and-entities.xsd",
    )


@cache
def entity_schema() -> etree.XMLSchema:
    """The data model alone (EntitySchema.xsd): one entity as a document, e.g. `<Vessel>`."""
    return _load(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:include schemaLocation="{DATA_MODEL_DIR / "EntitySchema.xsd"}"/>'
        "</xs:schema>",
        DATA_MODEL_DIR / "mdx-entities.xsd",
    )
