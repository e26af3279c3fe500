#!/usr/bin/env bash
# Builds the operator's map assets (Leaflet, markercluster, the offline Natural Earth basemap)
# from web/ into services/mdx/api/static/map/vendor/. Idempotent: `npm ci` only when the lock
# file changed since the last install, then a rebuild of the vendor folder.
set -euo pipefail
cd "$(dirname "$0")/../../web"

die() { printf '\033[31m[build-web] %s\033[0m\n' "$*" >&2; exit 1; }
command -v node >/dev/null || die "node is missing: install Node.js 18+ (Debian/Ubuntu: apt-get install -y nodejs npm)"
command -v npm >/dev/null || die "npm is missing: install it (Debian/Ubuntu: apt-get install -y npm)"

stamp=node_modules/.mdx-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
node build.mjs
