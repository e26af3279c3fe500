#!/usr/bin/env bash
# `make demo`: the three-node demo network. JCG, KCG and USCG each run a whole node (their own
# Mosquitto, bridged to the partners' brokers, their own PostGIS database, and the ingest,
# share and api services) and each node is fed by its own simulator.
#
# Uses Docker Compose where a Docker engine and its compose plugin work (docker-compose.yml),
# the local packages otherwise (MDX_DEMO_DOCKER=no forces the local path). Locally:
#   mdx keys init / mdx db reset     for each node (MDX_DEMO_KEEP=yes: mdx db migrate instead)
#   mdx pki link                     each node's CA and its bridges' certificates
#   mdx node run                     per node, in the background  -> var/<node>/node.log
#   mdx sim                          per node, once its /healthz answers -> var/<node>/sim.log
# Ctrl-C (or SIGTERM) stops every process this script started, and their children.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${MDX_DEMO_DOCKER:-auto}" != "no" ] && command -v docker >/dev/null \
   && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  cat <<'MSG'

  mdx demo in Docker Compose (docker-compose.yml): the JCG, KCG and USCG nodes, bridged.
  Once they are up:  APIs http://127.0.0.1:8101 (JCG), :8102 (KCG), :8103 (USCG)
                     (/api/v1/incidents, /docs, /healthz, /api/v1/partners)
                     MQTT brokers 127.0.0.1:18831, :18832, :18833
  Ctrl-C stops the containers; `docker compose down -v` also deletes their data.

MSG
  exec docker compose up --build
fi

NODES=(jcg kcg uscg)
MDX=.venv/bin/mdx
PY=.venv/bin/python

say() { printf '\033[1m[demo]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[demo] %s\033[0m\n' "$*" >&2; exit 1; }

# Every background process runs as the leader of its own process group (setsid), so that stopping
# a group also stops what it spawned (a node's broker, ingest, share and api) even if the
# leader itself does not get to it.
GROUPS_STARTED=()

alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_all() {
  local status=$?
  trap '' INT TERM  # a second Ctrl-C must not cut the clean-up short
  if [ ${#GROUPS_STARTED[@]} -gt 0 ]; then
    say "stopping the simulators and the nodes"
    # The leaders only: `mdx node run` stops its own broker and services.
    kill -TERM "${GROUPS_STARTED[@]}" 2>/dev/null || true
    for _ in $(seq 60); do
      local left=0 g
      for g in "${GROUPS_STARTED[@]}"; do alive "$g" && left=1; done
      [ "$left" -eq 0 ] && break
      sleep 0.5
    done
    local g
    for g in "${GROUPS_STARTED[@]}"; do
      if alive "$g"; then
        say "process group $g still running after 30 s: killing it"
        kill -KILL -- "-$g" 2>/dev/null || true
      fi
    done
    wait 2>/dev/null || true
    say "stopped"
  fi
  exit "$status"
}
trap stop_all EXIT
# Ctrl-C or a TERM is how a demo is meant to end: a clean stop, exit 0.
trap 'exit 0' INT TERM

start() {  # start LOG COMMAND...: in the background, in its own process group
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  GROUPS_STARTED+=("$!")
}

http_ok() {  # http_ok URL: whether it answers 2xx within 2 s
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
  else
    "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "$1" >/dev/null 2>&1
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Each node's addresses, from its config as the node reads it (MDX_* overrides included).
declare -A API_URL BROKER SIGNING_KEY
while read -r id api broker key; do
  API_URL[$id]=$api
  BROKER[$id]=$broker
  SIGNING_KEY[$id]=$key
done < <("$PY" - "${NODES[@]}" <<'PY'
import sys
from mdx.core.settings import load_settings
for node in sys.argv[1:]:
    s = load_settings(f"infra/nodes/{node}.toml")
    api, broker = f"http://{s.api.host}:{s.api.port}", f"{s.broker.host}:{s.broker.port}"
    print(node, api, broker, s.node.signing_key)
PY
)
[ ${#API_URL[@]} -eq ${#NODES[@]} ] || die "cannot read infra/nodes/{${NODES[*]}}.toml"

for id in "${NODES[@]}"; do
  for port in "${API_URL[$id]##*:}" "${BROKER[$id]##*:}"; do
    port_in_use "$port" && die "port $port ($id) is taken: is a demo still running? (ss -ltnp)"
  done
done

# Every key before any node starts: a node's share service loads its partners' public keys.
new_keys=no
for id in "${NODES[@]}"; do
  mkdir -p "var/$id"
  [ -e "${SIGNING_KEY[$id]}" ] || new_keys=yes
  "$MDX" keys init --config "infra/nodes/$id.toml"
done

# MQTT security (README, "MQTT security"): each node's CA, and for every pair of partners what
# real coast guards do out of band (`mdx pki csr`, `sign`, `accept`): A's bridge key and CSR,
# signed by B's CA as bridge-A, kept by A with B's CA certificate. All three nodes are local, so
# `mdx pki link` does both directions at once (kept once done; rm -r var/*/security starts
# over). `mdx node run` generates each broker's passwords and ACL.
"$MDX" pki link --config infra/nodes/jcg.toml infra/nodes/kcg.toml
"$MDX" pki link --config infra/nodes/jcg.toml infra/nodes/uscg.toml
"$MDX" pki link --config infra/nodes/kcg.toml infra/nodes/uscg.toml

# Each demo starts from empty databases, so that what the detectors raise is what this run's
# simulators scripted (a restart would otherwise read the time the demo was down as every
# vessel going dark). MDX_DEMO_KEEP=yes keeps them, unless the keys are new: the databases
# outlive a checkout (the system's PostgreSQL), the keys do not (var/), and items signed with
# keys that are gone would be refused by every partner.
for id in "${NODES[@]}"; do
  if [ "${MDX_DEMO_KEEP:-no}" != yes ] || [ "$new_keys" = yes ]; then
    "$MDX" db reset --yes --config "infra/nodes/$id.toml"
  else
    "$MDX" db migrate --config "infra/nodes/$id.toml"
  fi
done

# Each node's operator account (README, "Logging in"): the password from MDX_DEMO_PASSWORD, or
# one generated once into var/<node>/operator.password (readable by this user only).
declare -A OPERATOR_PASSWORD
for id in "${NODES[@]}"; do
  secret="var/$id/operator.password"
  if [ -n "${MDX_DEMO_PASSWORD:-}" ]; then
    OPERATOR_PASSWORD[$id]=$MDX_DEMO_PASSWORD
  else
    [ -s "$secret" ] || (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$secret")
    OPERATOR_PASSWORD[$id]=$(<"$secret")
  fi
  MDX_USER_PASSWORD=${OPERATOR_PASSWORD[$id]} "$MDX" users add operator --role operator --reset \
    --config "infra/nodes/$id.toml"
done

declare -A NODE_GROUP
for id in "${NODES[@]}"; do
  start "var/$id/node.log" "$MDX" node run --config "infra/nodes/$id.toml"
  NODE_GROUP[$id]=$!
done

for id in "${NODES[@]}"; do
  for i in $(seq 120); do
    http_ok "${API_URL[$id]}/healthz" && break
    if ! kill -0 "${NODE_GROUP[$id]}" 2>/dev/null; then
      tail -n 30 "var/$id/node.log" >&2
      die "the $id node stopped (var/$id/node.log)"
    fi
    [ "$i" -eq 120 ] && die "the $id node is not healthy after 60 s (var/$id/node.log)"
    sleep 0.5
  done
  say "$id node healthy: ${API_URL[$id]}/healthz"
done

seed=0
for id in "${NODES[@]}"; do
  seed=$((seed + 1))
  start "var/$id/sim.log" "$MDX" sim --config "infra/nodes/$id.toml" \
    --producer sim --seed "$seed" --rate 10
  # Raw AIS: 4 h of history first (so the scripted behaviours are complete), then live.
  start "var/$id/sim-ais.log" "$MDX" sim-ais --config "infra/nodes/$id.toml" \
    --producer ais-sim --seed "$seed"
done

{
  printf '\n  mdx demo is running: three nodes (JCG, KCG, USCG), bridged to each other, each fed\n'
  printf '  by its own simulator (10 positions/s, an incident every ~10 s).\n'
  for id in "${NODES[@]}"; do
    api=${API_URL[$id]}
    printf '\n  %s\n' "$(tr '[:lower:]' '[:upper:]' <<<"$id")"
    printf '    incidents     %s/api/v1/incidents\n' "$api"
    printf '    API docs      %s/docs\n' "$api"
    printf '    health        %s/healthz\n' "$api"
    printf '    partner links %s/api/v1/partners\n' "$api"
    printf '    map           %s/map/  (log in: operator / %s)\n' "$api" "${OPERATOR_PASSWORD[$id]}"
    printf '    MQTT broker   %s  (publish to mdx/v1/in/{producer}/position|incident)\n' \
      "${BROKER[$id]}"
    printf '    logs          var/%s/node.log, var/%s/sim.log\n' "$id" "$id"
  done
  cat <<MSG

  What crossed the bridges: incidents that originate at JCG, as KCG holds them (those whose
  markings allow KCG; the simulators report one every ~10 s, it crosses within a second):
    token=\$(curl -s -d username=operator -d password='${OPERATOR_PASSWORD[kcg]}' \\
      ${API_URL[kcg]}/auth/token | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -H "Authorization: Bearer \$token" '${API_URL[kcg]}/api/v1/incidents?origin=jcg'

  Ctrl-C stops everything.

MSG
}

# Until Ctrl-C / SIGTERM, or until one of the processes ends on its own.
set +e
wait -n
status=$?
set -e
say "a demo process ended on its own (exit $status); see var/*/node.log and var/*/sim.log"
exit 1
