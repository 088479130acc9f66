#!/usr/bin/env bash
# Prepares a fresh machine: pnpm, the workspace's packages, a build. With --test-tools also the
# Debian packages the tests use (a Docker engine to start privately, Docker clients, a registry).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--test-tools" ]; then
  need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  [ -x /usr/bin/docker ] || need+=(docker.io)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || need+=(busybox-static)
  command -v docker-registry >/dev/null || need+=(docker-registry)
  /usr/bin/python3 -c 'import docker' 2>/dev/null || need+=(python3-docker)
  /usr/bin/python3 -c 'import h2, msgpack' 2>/dev/null || need+=(python3-h2 python3-msgpack)
  command -v openssl >/dev/null || need+=(openssl)
  command -v script >/dev/null || need+=(bsdutils)
  command -v ip >/dev/null || need+=(iproute2)
  command -v curl >/dev/null || need+=(curl)
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || need+=(openssh-client)
  if [ "${#need[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  # The docker.io package ships CLI 20.10 at /usr/bin/docker; CLI 28 at /usr/local/bin/docker is used when present.
fi

if ! command -v pnpm >/dev/null; then
  echo "setup: installing pnpm" >&2
  COREPACK_INTEGRITY_KEYS=0 corepack enable pnpm 2>/dev/null && COREPACK_INTEGRITY_KEYS=0 pnpm --version >/dev/null 2>&1 \
    || npm install -g pnpm@10 >/dev/null
fi
export COREPACK_INTEGRITY_KEYS=0
pnpm install --frozen-lockfile
pnpm build
