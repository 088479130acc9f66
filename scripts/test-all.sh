#!/usr/bin/env bash
# Runs every test of every package on this machine, installing what they need first.
# Needs root (tests start private Docker engines, as DEVELOPERS.md describes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test-tools
export COREPACK_INTEGRITY_KEYS=0
pnpm typecheck
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
pnpm test 2>&1 | tee "$log" || status=$?
# One closing line over all packages: vitest prints "Tests  N failed | M passed (T)" per package.
sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
  /Tests +[0-9]/ {
    for (i = 1; i <= NF; i++) {
      if ($(i) ~ /^passed/) passed += $(i - 1)
      if ($(i) ~ /^failed/) failed += $(i - 1)
      if ($(i) ~ /^skipped/) skipped += $(i - 1)
    }
  }
  END { printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped }'
exit "$status"
