/** Root of everything this package creates: engine dirs, locks, the busybox tarball cache. */
export const ENGINES_ROOT = '/tmp/libswarm-engines'

/** The docker CLI 28.x (classic builder). */
export const DOCKER28 = '/usr/local/bin/docker'

/** Debian's docker CLI 20.10 (BuildKit with DOCKER_BUILDKIT=1). */
export const DOCKER20 = '/usr/bin/docker'
