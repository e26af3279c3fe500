#!/usr/bin/env bash
# `make demo`: the JCG node (its own Mosquitto, ingest, api) and a simulator feeding it.
# Uses Docker Compose where a Docker engine runs, the local packages otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${MDX_DEMO_DOCKER:-auto}" != "no" ] && command -v docker >/dev/null \
   && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  exec docker compose up --build
fi

CONFIG=infra/nodes/jcg.toml
mkdir -p var/jcg
.venv/bin/mdx db migrate --config "$CONFIG"
.venv/bin/mdx node run --config "$CONFIG" > var/jcg/node.log 2>&1 &
NODE=$!
trap 'kill $NODE $SIM 2>/dev/null; wait' EXIT INT TERM
for _ in $(seq 60); do
  curl -fsS http://127.0.0.1:8101/healthz >/dev/null 2>&1 && break
  kill -0 $NODE 2>/dev/null || { cat var/jcg/node.log; exit 1; }
  sleep 0.5
done
.venv/bin/mdx sim --config "$CONFIG" --rate 20 > var/jcg/sim.log 2>&1 &
SIM=$!
cat <<MSG

  mdx demo is running: the JCG node with simulated traffic.

  API            http://127.0.0.1:8101/api/v1/incidents
  API docs       http://127.0.0.1:8101/docs
  Health         http://127.0.0.1:8101/healthz
  Dead letters   http://127.0.0.1:8101/api/v1/deadletters
  MQTT broker    127.0.0.1:18831  (publish to mdx/v1/in/{producer}/position|incident)
  Logs           var/jcg/node.log, var/jcg/sim.log

  Ctrl-C stops everything.
MSG
wait $NODE
