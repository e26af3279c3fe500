"""/map/: the operator's map, a static single page served by the node itself.

Everything it loads (Leaflet, the clustering plug-in, the Natural Earth basemap) comes from
this node: `infra/scripts/build-web.sh` builds them into `static/map/vendor/`, so the map works
on a ship or in an operations room without internet. The page talks to the same node's API.

The files are public (there is nothing in them); every data call they make needs a login:
session.js shows a login form when one is answered 401, and the session is then an HttpOnly
cookie (mdx.api.identity).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static" / "map"
PREFIX = "/map"

router = APIRouter(include_in_schema=False)


@router.get(PREFIX)
def to_map() -> RedirectResponse:
    # Relative URLs in index.html (map.js, vendor/...) resolve only under the trailing slash.
    return RedirectResponse(f"{PREFIX}/", status_code=308)


# check_dir=False: a node built without the web assets still starts; /map/ is then a 404.
router.mount(PREFIX, StaticFiles(directory=STATIC, html=True, check_dir=False), name="map")
