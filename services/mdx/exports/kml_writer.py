"""KML 2.2 (OGC 07-147r2), written with lxml one Placemark at a time.

Each feature is a Placemark: its name, a description, a TimeStamp, a shared style and its
properties as ExtendedData (untyped `Data`, which Google Earth shows in the balloon and GDAL
reads as fields). KML clients show `description` as HTML, so the text is HTML-escaped before it
is written (and lxml escapes it again for XML): a report's text is shown, never run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from lxml import etree

from mdx.exports.values import Feature, as_text

MEDIA_TYPE = "application/vnd.google-earth.kml+xml"
KML_NS = "http://www.opengis.net/kml/2.2"
_NSMAP = {None: KML_NS}
_ICONS = "http://maps.google.com/mapfiles/kml/shapes/"


@dataclass(frozen=True, slots=True)
class Style:
    """A shared style: an icon for points, a line and a fill for the rest. `colour` is
    `#rrggbb`; KML writes it as aabbggrr."""

    id: str
    colour: str
    icon: str = "placemark_circle.png"  # one of Google Earth's shapes


@dataclass(frozen=True, slots=True)
class Layout:
    """What a feature's Placemark shows: its name, description, time and style id."""

    name: Callable[[Feature], str]
    description: Callable[[Feature], str | None]
    time: Callable[[Feature], str | None]
    style: Callable[[Feature], str]
    styles: Sequence[Style]


def style_id(*parts: str) -> str:
    """An XML ID from data values (AMBER+STRICT -> AMBER-STRICT)."""
    return "-".join(re.sub(r"[^A-Za-z0-9_-]", "-", p) for p in parts)


def write_kml(
    out: IO[bytes], features: Iterable[Feature], layout: Layout, *, title: str, about: str
) -> int:
    """The KML document `title` (`about` as its description) with one Placemark per feature."""
    count = 0
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(_k("kml"), nsmap=_NSMAP), xf.element(_k("Document")):
            xf.write(_text("name", title), _text("description", html.escape(about)))
            for style in layout.styles:
                xf.write(_style(style))
            for feature in features:
                xf.write(_placemark(feature, layout))
                count += 1
                if count % 500 == 0:
                    xf.flush()
    return count


def _k(tag: str) -> str:
    return f"{{{KML_NS}}}{tag}"


def _element(tag: str, **attributes: str) -> etree._Element:
    # Each top-level element declares the default namespace: lxml serialises every written
    # element on its own, and would otherwise give it a prefix (ns0:) of its own.
    return etree.Element(_k(tag), attributes, nsmap=_NSMAP)


def _text(tag: str, text: str) -> etree._Element:
    e = _element(tag)
    e.text = text
    return e


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    e = etree.SubElement(parent, _k(tag))
    if text is not None:
        e.text = text
    return e


def _kml_colour(rgb: str, alpha: str = "ff") -> str:
    r, g, b = rgb[1:3], rgb[3:5], rgb[5:7]
    return f"{alpha}{b}{g}{r}".lower()


def _style(style: Style) -> etree._Element:
    e = _element("Style", id=style.id)
    icon = _sub(e, "IconStyle")
    _sub(icon, "color", _kml_colour(style.colour))
    _sub(_sub(icon, "Icon"), "href", _ICONS + style.icon)
    line = _sub(e, "LineStyle")
    _sub(line, "color", _kml_colour(style.colour))
    _sub(line, "width", "2")
    _sub(_sub(e, "PolyStyle"), "color", _kml_colour(style.colour, "66"))
    return e


def _placemark(feature: Feature, layout: Layout) -> etree._Element:
    # An XML ID cannot start with a digit (UUIDs and MMSIs do): the style-like prefix fixes it.
    p = _element("Placemark", id=style_id("f", as_text(feature.get("id"))))
    _sub(p, "name", layout.name(feature))
    description = layout.description(feature)
    if description:
        _sub(p, "description", html.escape(description))
    when = layout.time(feature)
    if when:
        _sub(_sub(p, "TimeStamp"), "when", when)
    _sub(p, "styleUrl", "#" + layout.style(feature))
    data = _sub(p, "ExtendedData")
    for name, value in (feature.get("properties") or {}).items():
        if value is None:
            continue
        item = _sub(data, "Data")
        item.set("name", name)
        _sub(item, "value", as_text(value))
    geometry = feature.get("geometry")
    if geometry:
        p.append(_geometry(geometry))
    return p


def _coordinates(positions: Iterable[Sequence[float]]) -> str:
    return " ".join(",".join(as_text(c) for c in pos) for pos in positions)


def _geometry(g: dict[str, Any]) -> etree._Element:
    kind = g["type"]
    coords: Any = g.get("coordinates")
    if kind == "Point":
        e = etree.Element(_k("Point"))
        _sub(e, "coordinates", _coordinates([coords]))
    elif kind == "LineString":
        e = etree.Element(_k("LineString"))
        _sub(e, "tessellate", "1")
        _sub(e, "coordinates", _coordinates(coords))
    elif kind == "Polygon":
        e = etree.Element(_k("Polygon"))
        for i, ring in enumerate(coords):
            boundary = _sub(e, "outerBoundaryIs" if i == 0 else "innerBoundaryIs")
            _sub(_sub(boundary, "LinearRing"), "coordinates", _coordinates(ring))
    elif kind.startswith("Multi"):
        e = etree.Element(_k("MultiGeometry"))
        for part in coords:
            e.append(_geometry({"type": kind.removeprefix("Multi"), "coordinates": part}))
    elif kind == "GeometryCollection":
        e = etree.Element(_k("MultiGeometry"))
        for part in g["geometries"]:
            e.append(_geometry(part))
    else:
        raise ValueError(f"not a GeoJSON geometry type: {kind}")
    return e
