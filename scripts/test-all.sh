#!/usr/bin/env bash
# Runs every test of every package on this machine, installing what they need first.
# Needs root (tests start private Docker engines, as DEVELOPERS.md describes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test-tools
export COREPACK_INTEGRITY_KEYS=0
pnpm typecheck
pnpm test
