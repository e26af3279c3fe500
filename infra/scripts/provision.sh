#!/usr/bin/env bash
# Makes sure this machine can run an mdx node: Python venv with the project, Mosquitto,
# PostgreSQL with PostGIS (running), and the `mdx` database role. Idempotent.
# Installs missing system packages with apt-get when run as root on Debian/Ubuntu;
# otherwise says what to install.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '\033[1m[provision]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[provision] %s\033[0m\n' "$*" >&2; exit 1; }

APT_UPDATED=
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    die "missing: $* — install it (Debian/Ubuntu: sudo apt-get install -y $*) and run again"
  fi
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq; APT_UPDATED=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- Python ------------------------------------------------------------------------------
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || apt_install python3 python3-venv
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' \
  || die "mdx needs Python 3.11 or newer ($PYTHON is $("$PYTHON" -V))"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv 2>/dev/null || { apt_install python3-venv; "$PYTHON" -m venv .venv; }
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing mdx and its dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi

# --- Mosquitto ---------------------------------------------------------------------------
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || apt_install mosquitto mosquitto-clients
command -v mosquitto_pub >/dev/null || apt_install mosquitto-clients

# --- PostgreSQL + PostGIS ----------------------------------------------------------------
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 \
    || apt_install postgresql
fi
if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  PGV=$(ls /usr/lib/postgresql | sort -n | tail -1)
  [ -f "/usr/share/postgresql/$PGV/extension/postgis.control" ] \
    || apt_install "postgresql-$PGV-postgis-3"
  if ! pg_isready -q -h 127.0.0.1; then
    say "starting PostgreSQL $PGV"
    pg_ctlcluster --skip-systemctl-redirect "$PGV" main start 2>/dev/null \
      || pg_ctlcluster "$PGV" main start
  fi
fi
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
pg_isready -q -h 127.0.0.1 || die "PostgreSQL does not answer on 127.0.0.1:5432"

# The `mdx` role (password `mdx`, demo only) creates the nodes' databases and PostGIS.
if ! PGPASSWORD=mdx psql -h 127.0.0.1 -U mdx -d postgres -tAc 'select 1' >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "create a PostgreSQL superuser role mdx with password mdx"
  say "creating the PostgreSQL role mdx"
  runuser -u postgres -- psql -q -d postgres \
    -c "CREATE ROLE mdx LOGIN SUPERUSER PASSWORD 'mdx'" 2>/dev/null \
    || runuser -u postgres -- psql -q -d postgres -c "ALTER ROLE mdx LOGIN SUPERUSER PASSWORD 'mdx'"
fi
# --- GDAL's command-line tools: the tests read the OGC API and KML exports as GIS users do --
command -v ogrinfo >/dev/null || apt_install gdal-bin

# --- The operator's map: Node.js builds it, Chromium (+ CJK fonts) runs its browser tests ----
command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
[ -x /usr/bin/chromium ] || apt_install chromium
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || apt_install fonts-noto-cjk
bash infra/scripts/build-web.sh

say "ready: .venv, mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}'), PostgreSQL + PostGIS"
