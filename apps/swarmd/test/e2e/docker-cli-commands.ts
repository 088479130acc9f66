/**
 * The script of docker commands the CLI end-to-end test runs, as data: each step runs
 * once straight against the engine ("direct") and then through every swarmd chain,
 * and the results are compared as the step says.
 *
 * Placeholders in `args`: `{n}` is this side's name prefix (`e2e-docker28-d` direct,
 * `e2e-docker28-a` through chain A…), `{d}` the direct side's prefix (for read-only
 * steps that look at the very same objects from every side), `{pass}` the CLI's prefix
 * (used as a label value), `{tmp}` a directory of this side, `{fixtures}`, `{registry}`,
 * `{since}`/`{until}` (unix seconds: the start of this CLI's pass, and now).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { deletePath, FIXTURES, jsonDiff, normaliseOutput, runProcess, type Normalisation, type NormaliseOptions, type ProcessResult } from './docker-cli-harness.js'

/** The two docker CLIs on this machine. */
export type CliName = 'docker28' | 'docker20'

/** Where and as whom a step runs. */
export interface SideContext {
  cli: CliName
  /** `d` for direct, else the chain variant's letter. */
  side: string
  n: string
  d: string
  pass: string
  tmp: string
  registry: string
  since: string
  until: string
}

/** The outcome of one step on one side. */
export interface SideOutcome {
  result: ProcessResult
  ctx: SideContext
}

/** A comparison of one step's direct and chained outcomes: returns the differences (empty when equal). */
export type CustomCompare = (direct: SideOutcome, chained: SideOutcome, step: DockerStep) => string[] | Promise<string[]>

/** One docker command of the script. */
export interface DockerStep {
  name: string
  args: string[]
  stdin?: string
  /** Keep stdin open after writing it (until the command exits). */
  holdStdin?: boolean
  tty?: boolean
  env?: Record<string, string>
  /** Only with this CLI. */
  only?: CliName
  /** Read-only step: every side reads the direct side's objects, so ids must match too. */
  shared?: boolean
  /**
   * `exact`: exit code, stdout and stderr equal (after the side's names are unified);
   * `normalised`: the same after ids, times and `normalise` extras are replaced by tokens;
   * `exit-code`: only the exit code; or a custom comparison.
   */
  compare: 'exact' | 'normalised' | 'exit-code' | CustomCompare
  normalise?: Normalisation[]
  /** Exit code the direct run must have (default 0): proves the step itself is meaningful. */
  expectCode?: number
  /** What the direct run's stdout must match (sanity of the step itself). */
  expectStdout?: RegExp
  /** What the direct run's stderr must match. */
  expectStderr?: RegExp
  timeoutMs?: number
}

/** Replaces `{placeholders}` in a step argument. */
export function expandArg (arg: string, ctx: SideContext): string {
  return arg.replace(/\{(n|d|pass|tmp|fixtures|registry|since|until)\}/g, (_, key: string) => {
    if (key === 'fixtures') return FIXTURES
    return ctx[key as keyof SideContext]
  })
}

/** Normalisation options that make a side's own names and paths equal to every other side's. */
export function sideNormalisation (ctx: SideContext, step: DockerStep, full: boolean): NormaliseOptions {
  return {
    // Shared steps list every side's objects: names stay as they are.
    replace: step.shared === true ? [[ctx.tmp, '<tmp>']] : [[ctx.tmp, '<tmp>'], [ctx.n, `${ctx.pass}-X`]],
    ids: full && step.shared !== true,
    times: full,
    spaces: full,
    extra: full ? step.normalise ?? [] : []
  }
}

/** The built-in comparisons. */
export async function compareStep (step: DockerStep, direct: SideOutcome, chained: SideOutcome): Promise<string[]> {
  if (typeof step.compare === 'function') return await step.compare(direct, chained, step)
  const diffs: string[] = []
  if (direct.result.code !== chained.result.code) diffs.push(`exit code: direct ${direct.result.code}, chained ${chained.result.code}`)
  if (step.compare === 'exit-code') return diffs
  const full = step.compare === 'normalised'
  for (const stream of ['stdout', 'stderr'] as const) {
    const a = normaliseOutput(direct.result[stream], sideNormalisation(direct.ctx, step, full))
    const b = normaliseOutput(chained.result[stream], sideNormalisation(chained.ctx, step, full))
    if (a !== b) diffs.push(`${stream} differs:\n--- direct\n${a}\n--- chained\n${b}`)
  }
  return diffs
}

/**
 * Compares stdout as JSON, field by field, after the text normalisation of the side
 * (ids and times only for non-shared steps) and after deleting `volatile` paths.
 */
export function jsonFields (volatile: string[] = [], extra: Normalisation[] = []): CustomCompare {
  return (direct, chained, step) => {
    const diffs: string[] = []
    if (direct.result.code !== chained.result.code) diffs.push(`exit code: direct ${direct.result.code}, chained ${chained.result.code}: ${chained.result.stderr}`)
    const parse = (outcome: SideOutcome): unknown => {
      const options = { ...sideNormalisation(outcome.ctx, step, step.shared !== true), spaces: false, extra }
      const value: unknown = JSON.parse(normaliseOutput(outcome.result.stdout, options))
      for (const path of volatile) {
        if (Array.isArray(value)) for (const item of value) deletePath(item, path)
        else deletePath(value, path)
      }
      return value
    }
    try {
      diffs.push(...jsonDiff(parse(direct), parse(chained)))
    } catch (error) {
      diffs.push(`not JSON: ${(error as Error).message}\n--- direct\n${direct.result.stdout.slice(0, 500)}\n--- chained\n${chained.result.stdout.slice(0, 500)}`)
    }
    return diffs
  }
}

/** Compares the content of a file each side wrote into its `{tmp}` with an expected content. */
function fileWritten (name: string, expected: string): CustomCompare {
  return (direct, chained) => {
    const diffs: string[] = []
    if (direct.result.code !== chained.result.code) diffs.push(`exit code: direct ${direct.result.code}, chained ${chained.result.code}: ${chained.result.stderr}`)
    for (const outcome of [direct, chained]) {
      let content: string
      try {
        content = readFileSync(join(outcome.ctx.tmp, name), 'utf8')
      } catch (error) {
        diffs.push(`${outcome.ctx.side}: ${(error as Error).message}`)
        continue
      }
      if (content !== expected) diffs.push(`${outcome.ctx.side}: ${name} is ${JSON.stringify(content)}, expected ${JSON.stringify(expected)}`)
    }
    return diffs
  }
}

/** Exit code and the stdout lines that match `pattern` (normalised) are equal. */
function linesMatching (pattern: RegExp): CustomCompare {
  return (direct, chained, step) => {
    const diffs: string[] = []
    if (direct.result.code !== chained.result.code) diffs.push(`exit code: direct ${direct.result.code}, chained ${chained.result.code}: ${chained.result.stderr}`)
    const lines = (outcome: SideOutcome): string => normaliseOutput(outcome.result.stdout, sideNormalisation(outcome.ctx, step, true))
      .split('\n').filter((line) => pattern.test(line)).join('\n')
    const a = lines(direct)
    const b = lines(chained)
    if (a !== b) diffs.push(`stdout lines ${pattern} differ:\n--- direct\n${a}\n--- chained\n${b}`)
    return diffs
  }
}

/** `docker save` archives: same entries, same manifest. */
const savedArchive: CustomCompare = async (direct, chained) => {
  const diffs: string[] = []
  if (direct.result.code !== chained.result.code) diffs.push(`exit code: direct ${direct.result.code}, chained ${chained.result.code}: ${chained.result.stderr}`)
  const list = async (outcome: SideOutcome): Promise<string> => {
    const tar = join(outcome.ctx.tmp, 'busybox.tar')
    const listing = await runProcess('tar', ['-tvf', tar], { timeoutMs: 10_000 })
    const manifest = await runProcess('tar', ['-xOf', tar, 'manifest.json'], { timeoutMs: 10_000 })
    return `${listing.code} ${listing.stdout.split('\n').sort().join('\n')}\n${manifest.stdout}`
  }
  const a = await list(direct)
  const b = await list(chained)
  if (!a.includes('manifest.json')) diffs.push(`the direct archive has no manifest.json:\n${a}`)
  if (a !== b) diffs.push(`archives differ:\n--- direct\n${a}\n--- chained\n${b}`)
  return diffs
}

/** BuildKit's plain progress: the same build steps (order of concurrent steps and timings vary). */
const buildkitSteps: CustomCompare = (direct, chained) => {
  const diffs: string[] = []
  if (direct.result.code !== chained.result.code) diffs.push(`exit code: direct ${direct.result.code}, chained ${chained.result.code}:\n${chained.result.stderr}`)
  const steps = (outcome: SideOutcome): string => {
    const text = normaliseOutput(outcome.result.stderr, { replace: [[outcome.ctx.n, `${outcome.ctx.pass}-X`]] })
    const lines = text.split('\n').map((line) => /^#\d+ (\[[^\]]+\] .*)$/.exec(line)?.[1]).filter((line) => line !== undefined)
    return [...new Set(lines)].sort().join('\n')
  }
  const a = steps(direct)
  const b = steps(chained)
  if (!a.includes('RUN echo')) diffs.push(`the direct build shows no RUN step:\n${direct.result.stderr}`)
  if (a !== b) diffs.push(`build steps differ:\n--- direct\n${a}\n--- chained\n${b}`)
  return diffs
}

/** `docker push`: same repository line and same digest line; layer lines may say "Pushed" or "Mounted from". */
const pushed: CustomCompare = (direct, chained) => {
  const diffs: string[] = []
  if (direct.result.code !== chained.result.code) diffs.push(`exit code: direct ${direct.result.code}, chained ${chained.result.code}:\n${chained.result.stderr}`)
  const keyLines = (outcome: SideOutcome): string => normaliseOutput(outcome.result.stdout, { replace: [[outcome.ctx.n, `${outcome.ctx.pass}-X`]], ids: false })
    .split('\n').filter((line) => /^The push refers to|digest: sha256:/.test(line)).join('\n')
  const a = keyLines(direct)
  const b = keyLines(chained)
  if (!/digest: sha256:[0-9a-f]{64} size: \d+/.test(a)) diffs.push(`the direct push shows no digest:\n${direct.result.stdout}`)
  if (a !== b) diffs.push(`push differs:\n--- direct\n${a}\n--- chained\n${b}`)
  return diffs
}

const LABEL = 'e2e.pass={pass}'
/** PID 1 waits on a child, so `top` is stable and SIGTERM ends it at once. */
const WEB = "trap 'exit 0' TERM; echo web up; sleep 3600 & wait"
const CONTAINER_VOLATILE = [
  'State.Pid',
  'NetworkSettings.IPAddress',
  'NetworkSettings.MacAddress',
  'NetworkSettings.Networks.*.IPAddress',
  'NetworkSettings.Networks.*.MacAddress',
  'NetworkSettings.Ports.*.*.HostPort'
]

/** The script, in order: later steps use what earlier ones created. */
export const DOCKER_STEPS: DockerStep[] = [
  { name: 'version', args: ['version'], shared: true, compare: 'exact', expectStdout: /Server:[\s\S]*API version/ },
  { name: 'info (JSON, field by field)', args: ['info', '--format', '{{json .}}'], shared: true, compare: jsonFields(['SystemTime', 'NGoroutines', 'NFd', 'NEventsListener']) },
  { name: 'info', args: ['info'], shared: true, compare: 'normalised', normalise: ['runtimes'], expectStdout: /Server Version: 20\.10/ },
  { name: 'images', args: ['images'], shared: true, compare: 'normalised', expectStdout: /busybox\s+latest/ },
  {
    name: 'run --rm: stdout and stderr kept apart',
    args: ['run', '--rm', '-l', LABEL, 'busybox', 'sh', '-c', 'echo to stdout; echo to stderr >&2; echo more stdout'],
    compare: 'exact',
    expectStdout: /^to stdout\nmore stdout\n$/,
    expectStderr: /^to stderr\n$/
  },
  { name: 'run --rm: the exit code comes back', args: ['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'], compare: 'exact', expectCode: 3 },
  {
    name: 'run --rm with --name, -e, -w, -u',
    args: ['run', '--rm', '--name', '{n}-oneshot', '-e', 'GREETING=hi there', '-w', '/tmp', '-u', '1000:1000', 'busybox', 'sh', '-c', 'echo "$GREETING"; pwd; id -u; hostname | wc -c'],
    compare: 'exact',
    expectStdout: /^hi there\n\/tmp\n1000\n\s*13\n$/
  },
  { name: 'run -i with piped stdin', args: ['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo stdin closed'], stdin: 'line one\nline two\n', compare: 'exact', expectStdout: /^line one\nline two\nstdin closed\n$/ },
  { name: 'run -t under a pseudo-terminal', args: ['run', '-t', '--rm', 'busybox', 'sh', '-c', 'tty; echo in a tty; test -t 1 && echo stdout is a tty'], tty: true, compare: 'exact', expectStdout: /^\/dev\/pts\/0\r+\nin a tty\r+\nstdout is a tty\r+\n$/ },
  { name: 'run -d with a published port', args: ['run', '-d', '--name', '{n}-web', '-l', LABEL, '-p', '127.0.0.1::80', 'busybox', 'sh', '-c', WEB], compare: 'normalised', expectStdout: /^[0-9a-f]{64}\n$/ },
  {
    name: 'run -d of a container that logs and exits',
    args: ['run', '-d', '--name', '{n}-logs', '-l', LABEL, 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo out $i; echo err $i >&2; sleep 0.1; done'],
    compare: 'normalised',
    expectStdout: /^[0-9a-f]{64}\n$/
  },
  { name: 'logs -f follows until the container exits', args: ['logs', '-f', '{n}-logs'], compare: 'exact', expectStdout: /^out 1\nout 2\nout 3\n$/, expectStderr: /^err 1\nerr 2\nerr 3\n$/ },
  { name: 'wait', args: ['wait', '{n}-logs'], compare: 'exact', expectStdout: /^0\n$/ },
  { name: 'logs --timestamps --tail', args: ['logs', '--timestamps', '--tail', '2', '{d}-logs'], shared: true, compare: 'exact', expectStdout: /Z out 3\n$/ },
  {
    name: 'run -d -i, for attach',
    args: ['run', '-d', '-i', '--name', '{n}-att', '-l', LABEL, 'busybox', 'sh', '-c', 'read line; echo "got $line"; echo bye >&2; exit 5'],
    compare: 'normalised'
  },
  { name: 'attach with stdin, exit code back', args: ['attach', '{n}-att'], stdin: 'hello\n', holdStdin: true, compare: 'exact', expectCode: 5, expectStdout: /^got hello\n$/, expectStderr: /^bye\n$/ },
  { name: 'exec', args: ['exec', '{n}-web', 'sh', '-c', 'echo exec out; echo exec err >&2; exit 4'], compare: 'exact', expectCode: 4, expectStdout: /^exec out\n$/, expectStderr: /^exec err\n$/ },
  { name: 'exec -i with piped stdin', args: ['exec', '-i', '{n}-web', 'sh', '-c', 'wc -l'], stdin: 'a\nb\nc\n', compare: 'exact', expectStdout: /^\s*3\n$/ },
  { name: 'exec -t under a pseudo-terminal', args: ['exec', '-t', '{n}-web', 'sh', '-c', 'tty; echo exec in a tty'], tty: true, compare: 'exact', expectStdout: /^\/dev\/pts\/\d+\r+\nexec in a tty\r+\n$/ },
  { name: 'ps', args: ['ps'], shared: true, compare: 'normalised', expectStdout: /e2e-docker\d\d-d-web/ },
  { name: 'ps -a', args: ['ps', '-a'], shared: true, compare: 'normalised', expectStdout: /e2e-docker\d\d-d-logs/ },
  {
    name: 'ps --filter name= --format',
    args: ['ps', '--filter', 'name={n}-web', '--format', '{{.Names}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.Ports}}|{{.Labels}}'],
    compare: 'normalised',
    normalise: ['ports'],
    expectStdout: /^e2e-docker\d\d-d-web\|busybox\|.*\|Up .*\|127\.0\.0\.1:\d+->80\/tcp\|e2e\.pass=e2e-docker\d\d\n$/
  },
  { name: 'ps -a --filter status=exited --filter label=', args: ['ps', '-a', '--filter', 'status=exited', '--filter', `label=${LABEL}`, '--format', '{{.ID}} {{.Names}} {{.Status}}'], shared: true, compare: 'normalised', expectStdout: /d-att Exited \(5\)/ },
  { name: 'inspect a container (the same one)', args: ['inspect', '{d}-web'], shared: true, compare: jsonFields() },
  { name: 'inspect a container made through the chain, field by field', args: ['inspect', '{n}-web'], compare: jsonFields(CONTAINER_VOLATILE, ['ports']) },
  { name: 'image inspect', args: ['image', 'inspect', 'busybox'], shared: true, compare: jsonFields() },
  { name: 'top', args: ['top', '{d}-web'], shared: true, compare: 'normalised', expectStdout: /sleep 3600/ },
  { name: 'port', args: ['port', '{n}-web'], compare: 'normalised', normalise: ['ports'], expectStdout: /^80\/tcp -> 127\.0\.0\.1:\d+\n$/ },
  { name: 'port (the same container)', args: ['port', '{d}-web', '80'], shared: true, compare: 'exact', expectStdout: /^127\.0\.0\.1:\d+\n$/ },
  { name: 'cp host -> container', args: ['cp', '{fixtures}/cp-in.txt', '{n}-web:/tmp/cp-in.txt'], compare: 'exact' },
  { name: 'exec cat of the copied file', args: ['exec', '{n}-web', 'cat', '/tmp/cp-in.txt'], compare: 'exact', expectStdout: /^copied into the container\nsecond line\n$/ },
  { name: 'cp container -> host', args: ['cp', '{n}-web:/tmp/cp-in.txt', '{tmp}/cp-out.txt'], compare: fileWritten('cp-out.txt', 'copied into the container\nsecond line\n') },
  { name: 'cp container -> stdout (tar)', args: ['cp', '{d}-web:/tmp/cp-in.txt', '-'], shared: true, compare: 'exact', expectStdout: /copied into the container/ },
  { name: 'stats --no-stream', args: ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}}', '{n}-web'], compare: 'normalised', normalise: ['sizes'], expectStdout: /^e2e-docker\d\d-d-web 2 \S+ \/ \S+\n$/ },
  { name: 'pause', args: ['pause', '{n}-web'], compare: 'exact', expectStdout: /^e2e-docker\d\d-d-web\n$/ },
  { name: 'ps shows it paused', args: ['ps', '--filter', 'name={n}-web', '--format', '{{.Names}} {{.Status}}'], compare: 'normalised', expectStdout: /\(Paused\)/ },
  { name: 'unpause', args: ['unpause', '{n}-web'], compare: 'exact' },
  { name: 'commit', args: ['commit', '-m', 'e2e commit', '-c', 'ENV COMMITTED=yes', '{n}-web', '{n}-commit:1'], compare: 'normalised', expectStdout: /^sha256:[0-9a-f]{64}\n$/ },
  { name: 'run the committed image', args: ['run', '--rm', '{n}-commit:1', 'sh', '-c', 'echo $COMMITTED; cat /tmp/cp-in.txt'], compare: 'exact', expectStdout: /^yes\ncopied into/ },
  { name: 'rename', args: ['rename', '{n}-web', '{n}-web2'], compare: 'exact' },
  { name: 'restart', args: ['restart', '-t', '2', '{n}-web2'], compare: 'exact', expectStdout: /web2\n$/ },
  { name: 'stop', args: ['stop', '-t', '2', '{n}-web2'], compare: 'exact' },
  { name: 'inspect --format after stop', args: ['inspect', '--format', '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}', '{n}-web2'], compare: 'exact', expectStdout: /^\/e2e-docker\d\d-d-web2 exited 0 0\n$/ },
  { name: 'start', args: ['start', '{n}-web2'], compare: 'exact' },
  { name: 'kill', args: ['kill', '{n}-web2'], compare: 'exact' },
  { name: 'wait after kill', args: ['wait', '{n}-web2'], compare: 'exact', expectStdout: /^137\n$/ },
  { name: 'events --since --until', args: ['events', '--since', '{since}', '--until', '{until}', '--filter', `label=${LABEL}`], shared: true, compare: 'exact', expectStdout: /container create [\s\S]*container kill/ },
  { name: 'rm -f', args: ['rm', '-f', '{n}-web2', '{n}-logs', '{n}-att'], compare: 'exact' },
  { name: 'network create', args: ['network', 'create', '--label', LABEL, '{n}-net'], compare: 'normalised' },
  { name: 'network ls', args: ['network', 'ls', '--filter', `label=${LABEL}`], shared: true, compare: 'exact', expectStdout: /d-net\s+bridge/ },
  {
    name: 'network inspect, field by field',
    args: ['network', 'inspect', '{n}-net'],
    compare: jsonFields(['IPAM.Config.*.Subnet', 'IPAM.Config.*.Gateway', 'IPAM.Config'])
  },
  { name: 'volume create', args: ['volume', 'create', '--label', LABEL, '{n}-vol'], compare: 'exact' },
  { name: 'volume ls', args: ['volume', 'ls', '--filter', `label=${LABEL}`], shared: true, compare: 'exact', expectStdout: /d-vol/ },
  { name: 'volume inspect, field by field', args: ['volume', 'inspect', '{n}-vol'], compare: jsonFields() },
  {
    name: 'run on the network with the volume',
    args: ['run', '--rm', '--network', '{n}-net', '-v', '{n}-vol:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f; cat /data/f; ip -o -4 addr show eth0 | wc -l'],
    compare: 'exact',
    expectStdout: /^kept\n\s*1\n$/
  },
  { name: 'network rm', args: ['network', 'rm', '{n}-net'], compare: 'exact' },
  { name: 'volume rm', args: ['volume', 'rm', '{n}-vol'], compare: 'exact' },
  {
    name: 'build (classic builder)',
    only: 'docker28',
    args: ['build', '--no-cache', '-t', '{n}-img:1', '{fixtures}/build'],
    env: { DOCKER_BUILDKIT: '0' },
    compare: 'normalised',
    expectStdout: /Step 4\/4[\s\S]*Successfully tagged e2e-docker28-d-img:1/,
    timeoutMs: 60_000
  },
  {
    name: 'build (BuildKit, --network none)',
    only: 'docker20',
    args: ['build', '--no-cache', '--network', 'none', '--progress', 'plain', '-t', '{n}-img:1', '{fixtures}/build'],
    env: { DOCKER_BUILDKIT: '1' },
    compare: buildkitSteps,
    timeoutMs: 60_000
  },
  { name: 'run the built image', args: ['run', '--rm', '{n}-img:1'], compare: 'exact', expectStdout: /^built in step two\nhello from the build context\n$/ },
  { name: 'tag', args: ['tag', '{n}-img:1', '{n}-img:2'], compare: 'exact' },
  // Images created in the same second come in map order: compare the rows as a set.
  { name: 'images --filter reference= --format', args: ['images', '--filter', 'reference=e2e-*', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'], shared: true, compare: 'normalised', normalise: ['sorted-lines'], expectStdout: /d-img:2/ },
  // Which layers `rmi` deletes depends on the other sides' images (same content, same layer): compare the untagging.
  { name: 'rmi', args: ['rmi', '{n}-img:2', '{n}-commit:1'], compare: linesMatching(/^Untagged: /), expectStdout: /Untagged: e2e-docker\d\d-d-img:2\nUntagged: e2e-docker\d\d-d-commit:1\nDeleted: sha256/ },
  { name: 'save -o', args: ['save', '-o', '{tmp}/busybox.tar', 'busybox'], compare: savedArchive },
  { name: 'load -i', args: ['load', '-i', '{tmp}/busybox.tar'], compare: 'exact', expectStdout: /Loaded image: busybox:latest/ },
  { name: 'tag for the registry', args: ['tag', 'busybox', '{registry}/{n}/busybox:1'], compare: 'exact' },
  { name: 'push to the local registry', args: ['push', '{registry}/{n}/busybox:1'], compare: pushed, timeoutMs: 60_000 },
  { name: 'rmi the pushed tag', args: ['rmi', '{registry}/{n}/busybox:1'], compare: 'exact', expectStdout: /Untagged: 127\.0\.0\.1:\d+\/e2e-docker\d\d-d\/busybox:1/ },
  { name: 'pull from the local registry', args: ['pull', '{registry}/{n}/busybox:1'], compare: 'exact', expectStdout: /Status: Downloaded newer image/, timeoutMs: 60_000 },
  { name: 'system df', args: ['system', 'df'], shared: true, compare: 'normalised', expectStdout: /Images\s+\d+/ }
]
