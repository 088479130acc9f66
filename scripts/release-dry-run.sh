#!/usr/bin/env bash
# The release flow without publishing (CI runs it from scripts/test-all.sh, after a build):
# `pnpm publish -r --dry-run`, then every public package packed with `pnpm pack` (which
# rewrites workspace: ranges), the tarballs installed with npm into an empty project (their
# third-party dependencies come from the npm registry), and swarmd run from there: --help,
# then `dockerserver | simulator` on a unix socket, asked /_ping and /containers/json.
# Prints one closing line; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export COREPACK_INTEGRITY_KEYS=0

work=$(mktemp -d /tmp/libswarm-release-XXXXXX)
swarmd_pid=
step=start
cleanup () {
  if [ -n "$swarmd_pid" ]; then kill "$swarmd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail () {
  echo "release dry run: FAILED at $step: $1" >&2
  if [ -f "$work/step.log" ]; then tail -n 40 "$work/step.log" >&2; fi
  exit 1
}

step='pnpm publish -r --dry-run'
pnpm publish -r --dry-run --no-git-checks >"$work/step.log" 2>&1 || fail 'pnpm publish exited non-zero'

step='pnpm pack'
mkdir "$work/tarballs" "$work/project"
# Public packages only: test-engine (private) is never published.
public=$(pnpm -r ls --json --depth -1 | node -e '
  for (const p of JSON.parse(require("fs").readFileSync(0, "utf8"))) if (!p.private) console.log(p.path)')
count=0
for dir in $public; do
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs") >"$work/step.log" 2>&1 || fail "pnpm pack in $dir"
  count=$((count + 1))
done
[ "$count" -gt 0 ] || fail 'no public package found'
if tar -xzOf "$work"/tarballs/libswarm-swarmd-*.tgz package/package.json | grep -q '"workspace:'; then
  fail 'a packed package.json still has a workspace: range'
fi

step='npm install of the tarballs'
cd "$work/project"
echo '{ "name": "release-dry-run", "private": true, "type": "module" }' >package.json
npm install --no-audit --no-fund --loglevel=error "$work"/tarballs/*.tgz >"$work/step.log" 2>&1 || fail 'npm install exited non-zero'
# Every @libswarm package must come from a tarball, none from the registry.
if grep -q '"resolved": "https://registry.npmjs.org/@libswarm/' package-lock.json; then
  fail 'an @libswarm package was fetched from the registry instead of its tarball'
fi

step='swarmd --help'
npx --no-install swarmd --help >"$work/step.log" 2>&1 || fail 'swarmd --help exited non-zero'
grep -q '^usage: swarmd' "$work/step.log" || fail 'swarmd --help printed no usage'

step='swarmd dockerserver | simulator'
socket="$work/swarm.sock"
./node_modules/.bin/swarmd "dockerserver unix://$socket" 'simulator --name release-dry-run' >"$work/swarmd.log" 2>&1 &
swarmd_pid=$!
for _ in $(seq 1 100); do
  [ -S "$socket" ] && break
  kill -0 "$swarmd_pid" 2>/dev/null || { cp "$work/swarmd.log" "$work/step.log"; fail 'swarmd exited before listening'; }
  sleep 0.1
done
[ -S "$socket" ] || { cp "$work/swarmd.log" "$work/step.log"; fail "no socket at $socket within 10 s"; }
ping=$(curl -sS --max-time 10 --unix-socket "$socket" http://localhost/_ping) || fail 'GET /_ping'
[ "$ping" = OK ] || fail "GET /_ping answered '$ping', not OK"
list=$(curl -sS --max-time 10 --unix-socket "$socket" http://localhost/containers/json) || fail 'GET /containers/json'
[ "$list" = '[]' ] || fail "GET /containers/json answered '$list', not []"
kill -TERM "$swarmd_pid"
code=0
wait "$swarmd_pid" || code=$?
swarmd_pid=
[ "$code" -eq 0 ] || { cp "$work/swarmd.log" "$work/step.log"; fail "swarmd exited with $code on SIGTERM"; }
[ ! -e "$socket" ] || fail 'swarmd left its socket behind'

echo "release dry run: ok: $count packages packed, installed from their tarballs with npm, swarmd answered /_ping and /containers/json"
