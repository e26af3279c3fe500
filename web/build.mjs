// Builds the map's vendored assets from node_modules, so /map/ needs no internet:
// Leaflet + markercluster (js, css, images) and an offline basemap (Natural Earth countries
// from world-atlas, TopoJSON -> GeoJSON). Output: services/mdx/api/static/map/vendor/.
// Run by infra/scripts/build-web.sh after `npm ci`; idempotent (the folder is rebuilt).
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "services", "mdx", "api", "static", "map", "vendor");
const pkgDir = (name) => dirname(require.resolve(`${name}/package.json`));
const { feature } = require("topojson-client");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "leaflet"), { recursive: true });
mkdirSync(join(out, "markercluster"), { recursive: true });

const leaflet = join(pkgDir("leaflet"), "dist");
for (const f of ["leaflet.js", "leaflet.css"]) cpSync(join(leaflet, f), join(out, "leaflet", f));
cpSync(join(leaflet, "images"), join(out, "leaflet", "images"), { recursive: true });

const cluster = join(pkgDir("leaflet.markercluster"), "dist");
for (const f of ["leaflet.markercluster.js", "MarkerCluster.css", "MarkerCluster.Default.css"]) {
  cpSync(join(cluster, f), join(out, "markercluster", f));
}

// 50m is detailed enough for the Sea of Japan / Korea Strait without being heavy (~1 MB).
const topo = JSON.parse(readFileSync(join(pkgDir("world-atlas"), "countries-50m.json"), "utf8"));
const countries = feature(topo, topo.objects.countries);
// Keep coordinates compact: 4 decimals is ~10 m, far below what the basemap shows.
const round = (c) => (typeof c[0] === "number" ? c.map((x) => Math.round(x * 1e4) / 1e4) : c.map(round));
for (const f of countries.features) f.geometry && (f.geometry.coordinates = round(f.geometry.coordinates));
writeFileSync(join(out, "countries.geojson"), JSON.stringify(countries));

const licences = [
  "leaflet: BSD-2-Clause (node_modules/leaflet/LICENSE)",
  "leaflet.markercluster: MIT",
  "world-atlas: ISC; data from Natural Earth (public domain)",
  "topojson-client: ISC (used at build time only)",
];
writeFileSync(join(out, "LICENSES.txt"), licences.join("\n") + "\n");
console.log(`[build-web] wrote ${out} (${countries.features.length} countries)`);
