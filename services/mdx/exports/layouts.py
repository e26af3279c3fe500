"""How incidents and vessels look in an export: CSV columns, KML names, descriptions and styles.

The styles follow the operator's map: a colour per TLP label (the FIRST TLP 2.0 colours), an
icon per incident category (Google Earth's stock shapes, which every KML client has).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mdx.exports.kml_writer import Layout, Style, style_id
from mdx.exports.values import Feature, as_text

TLP_COLOURS = {
    "CLEAR": "#ffffff",
    "GREEN": "#33a532",
    "AMBER": "#ffc000",
    "AMBER+STRICT": "#e08a00",
    "RED": "#ff2b2b",
}
CATEGORY_ICONS = {
    "iuu_fishing": "fishing.png",
    "sar": "man.png",
    "piracy_robbery": "police.png",
    "pollution": "water.png",
    "smuggling": "caution.png",
    "irregular_migration": "man.png",
    "maritime_safety": "caution.png",
    "other": "info-i.png",
}
VESSEL_ICON = "sailing.png"
# What the node adds to an incident's data, in the order a reader wants them after it.
INCIDENT_STORED = ("origin", "tlp", "relto", "purpose", "received_at", "provenance")
VESSEL_COLUMNS = (
    "mmsi",
    "name",
    "imo",
    "call_sign",
    "flag",
    "category",
    "ship_type",
    "observed_at",
    "sog",
    "cog",
    "heading",
    "nav_status",
    "source_type",
    "origin",
    "tlp",
    "relto",
    "purpose",
    "received_at",
)


def incident_columns(schema_properties: Iterable[str]) -> list[str]:
    """The incident schema's fields in its own order (the geometry has its own columns), then
    what the node stores with them."""
    own = [name for name in schema_properties if name != "location"]
    return own + [name for name in INCIDENT_STORED if name not in own]


def _known(value: str, table: dict[str, str], default: str) -> str:
    return value if value in table else default


def _incident_style(category: str, tlp: str) -> str:
    return style_id("incident", category, tlp)


def incident_layout(categories: Sequence[str]) -> Layout:
    def style(f: Feature) -> str:
        p = f["properties"]
        category = _known(as_text(p.get("category")), CATEGORY_ICONS, "other")
        return _incident_style(category, _known(as_text(p.get("tlp")), TLP_COLOURS, "CLEAR"))

    return Layout(
        name=lambda f: as_text(f["properties"].get("title")) or as_text(f.get("id")),
        description=lambda f: as_text(f["properties"].get("description")) or None,
        time=lambda f: as_text(f["properties"].get("observed_at")) or None,
        style=style,
        styles=[
            Style(_incident_style(c, tlp), colour, CATEGORY_ICONS.get(c, "info-i.png"))
            for c in categories
            for tlp, colour in TLP_COLOURS.items()
        ],
    )


def _vessel_description(f: Feature) -> str:
    p = f["properties"]
    parts = [f"MMSI {as_text(p.get('mmsi'))}"]
    parts += [f"{label} {as_text(p[key])}" for key, label in _VESSEL_FACTS if p.get(key)]
    return ", ".join(parts)


_VESSEL_FACTS = (("imo", "IMO"), ("flag", "flag"), ("category", "type"), ("sog", "SOG (kn)"))


def vessel_layout() -> Layout:
    return Layout(
        name=lambda f: as_text(f["properties"].get("name")) or as_text(f.get("id")),
        description=_vessel_description,
        time=lambda f: as_text(f["properties"].get("observed_at")) or None,
        style=lambda f: style_id(
            "vessel", _known(as_text(f["properties"].get("tlp")), TLP_COLOURS, "CLEAR")
        ),
        styles=[
            Style(style_id("vessel", tlp), colour, VESSEL_ICON)
            for tlp, colour in TLP_COLOURS.items()
        ],
    )
