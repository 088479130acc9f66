#!/usr/bin/env bash
# Builds swarmd and runs it on unix:///tmp/swarm.sock: in front of the local Docker engine when
# there is one, otherwise in front of two simulated engines joined by aggregate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
socket=${SWARM_SOCKET:-/tmp/swarm.sock}
engine=${DOCKER_HOST:-unix:///var/run/docker.sock}
engine_answers() {
  node -e 'const h=require("node:http");const r=h.get({socketPath:process.argv[1],path:"/_ping",timeout:2000},(s)=>process.exit(s.statusCode===200?0:1));r.on("error",()=>process.exit(1));r.on("timeout",()=>process.exit(1))' "$1"
}
if [[ $engine == unix://* ]] && [ -S "${engine#unix://}" ] && engine_answers "${engine#unix://}"; then
  back="dockerclient $engine"
  echo "swarmd: in front of the Docker engine at $engine" >&2
else
  back='aggregate "simulator --name sim-0" "simulator --name sim-1"'
  echo "swarmd: no Docker engine reachable at $engine; in front of two simulated engines" >&2
fi
echo "swarmd: try: docker -H unix://$socket ps" >&2
# A small young generation keeps memory flat while large streams pass (apps/swarmd/README.md).
export NODE_OPTIONS="${NODE_OPTIONS:-} --max-semi-space-size=1"
exec pnpm exec swarmd "dockerserver unix://$socket" "$back"
