import type { OutputStream } from './log-buffer.js'

/**
 * The simulator's tiny process model. A container's command becomes a short program
 * of steps: `echo` writes, `true`/`false`/`exit N` set the status, `sleep N` waits,
 * `cat` echoes stdin until EOF, and anything it does not know runs until stopped.
 * `sh -c` scripts of such commands joined by `;`, `&&`, `||` and newlines run in order.
 */
type Step =
  | { readonly kind: 'echo', readonly words: readonly Word[], readonly newline: boolean, readonly stream: OutputStream, readonly when: Condition }
  | { readonly kind: 'status', readonly code: number, readonly when: Condition }
  | { readonly kind: 'exit', readonly code: Word | undefined, readonly when: Condition }
  | { readonly kind: 'sleep', readonly ms: number, readonly when: Condition }
  | { readonly kind: 'cat', readonly when: Condition }
  | { readonly kind: 'forever', readonly command: string, readonly when: Condition }
  | { readonly kind: 'shell', readonly when: Condition }

/** When a step runs: always (`;`), after success (`&&`) or after failure (`||`). */
type Condition = 'always' | 'and' | 'or'

/** A word with `$NAME` references still to expand: literal text and variable names, alternating. */
type Word = readonly string[]

/** A parsed command: shared by every container that runs the same command line. */
export interface Program {
  readonly steps: readonly Step[]
}

/** What a running program acts on: its container (or exec). */
export interface ProcessHost {
  write (stream: OutputStream, bytes: Uint8Array): void
  /** The program ended by itself with `code`. */
  exited (code: number, process: SimProcess): void
  env (name: string): string | undefined
  /** Stdin is open (`docker run -i`): a bare shell reads commands from it. */
  readonly interactive: boolean
  /** Output goes to a terminal (`docker run -t`): a shell prompts and echoes. */
  readonly tty: boolean
}

const FOREVER: Program = { steps: [{ kind: 'forever', command: '', when: 'always' }] }
const SHELL: Program = { steps: [{ kind: 'shell', when: 'always' }] }
const cache = new Map<string, Program>()
const CACHE_LIMIT = 256

/** The program of a command line (Entrypoint followed by Cmd), cached by its text. */
export function compileCommand (argv: readonly string[]): Program {
  const key = argv.join('\0')
  let program = cache.get(key)
  if (program === undefined) {
    program = compileArgv(argv)
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string)
    cache.set(key, program)
  }
  return program
}

function compileArgv (argv: readonly string[]): Program {
  const [command, ...args] = argv
  if (command === undefined) return FOREVER
  const name = basename(command)
  if (name === 'sh' || name === 'bash' || name === 'ash') {
    if (args[0] === '-c' && args[1] !== undefined) return compileScript(args[1]) ?? FOREVER
    if (args.length === 0 || (args.length === 1 && (args[0] === '-i' || args[0] === '-l'))) return SHELL
  }
  const step = compileSimple([command, ...args].map((word) => [word]), 'always')
  return { steps: [step] }
}

function basename (path: string): string {
  const slash = path.lastIndexOf('/')
  return slash < 0 ? path : path.slice(slash + 1)
}

function literal (word: Word): string | undefined {
  return word.length === 1 ? word[0] : undefined
}

function compileSimple (words: Word[], when: Condition): Step {
  const name = basename(literal(words[0] ?? ['']) ?? '')
  let args = words.slice(1)
  switch (name) {
    case 'echo': {
      let newline = true
      let stream: OutputStream = 1
      const last = args.length > 0 ? literal(args[args.length - 1] as Word) : undefined
      if (last === '>&2' || last === '1>&2') {
        stream = 2
        args = args.slice(0, -1)
      }
      if (args.length > 0 && literal(args[0] as Word) === '-n') {
        newline = false
        args = args.slice(1)
      }
      return { kind: 'echo', words: args, newline, stream, when }
    }
    case 'true': case ':': return { kind: 'status', code: 0, when }
    case 'false': return { kind: 'status', code: 1, when }
    case 'exit': return { kind: 'exit', code: args[0], when }
    case 'sleep': return { kind: 'sleep', ms: parseSleep(args.map((word) => literal(word) ?? '')), when }
    case 'cat': return args.length === 0 ? { kind: 'cat', when } : { kind: 'forever', command: name, when }
    default: return { kind: 'forever', command: name, when }
  }
}

function parseSleep (args: string[]): number {
  let total = 0
  for (const arg of args) {
    if (arg === 'infinity') return Infinity
    const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(arg)
    if (match === null) return Infinity
    const unit = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as '' | 's' | 'm' | 'h' | 'd']
    total += Number(match[1]) * unit
  }
  return total
}

/** Splits a script into commands; `undefined` when it uses anything beyond lists of simple commands. */
function compileScript (script: string): Program | undefined {
  const steps: Step[] = []
  let words: Word[] = []
  let word: string[] | undefined
  let when: Condition = 'always'
  const appendText = (text: string): void => {
    word ??= ['']
    if (word.length % 2 === 1) word[word.length - 1] += text
    else word.push(text)
  }
  const appendVariable = (name: string): void => {
    word ??= ['']
    if (word.length % 2 === 0) word.push('')
    word.push(name)
  }
  const endWord = (): void => {
    if (word !== undefined) words.push(word)
    word = undefined
  }
  const endCommand = (next: Condition): void => {
    endWord()
    if (words.length > 0) steps.push(compileSimple(words, when))
    words = []
    when = next
  }
  const readVariable = (at: number): number => {
    if (script[at + 1] === '{') {
      const close = script.indexOf('}', at + 2)
      if (close < 0) return -1
      appendVariable(script.slice(at + 2, close))
      return close
    }
    const match = /^(\?|[A-Za-z_][A-Za-z0-9_]*)/.exec(script.slice(at + 1))
    if (match === null) {
      appendText('$')
      return at
    }
    appendVariable(match[1] as string)
    return at + match[1]!.length
  }
  for (let i = 0; i < script.length; i++) {
    const char = script[i] as string
    if (char === '\'') {
      const close = script.indexOf('\'', i + 1)
      if (close < 0) return undefined
      appendText(script.slice(i + 1, close))
      i = close
    } else if (char === '"') {
      let j = i + 1
      appendText('')
      for (; j < script.length && script[j] !== '"'; j++) {
        if (script[j] === '\\' && j + 1 < script.length) appendText(script[++j] as string)
        else if (script[j] === '$') {
          const end = readVariable(j)
          if (end < 0) return undefined
          j = end
        } else if (script[j] === '`') return undefined
        else appendText(script[j] as string)
      }
      if (j >= script.length) return undefined
      i = j
    } else if (char === '\\' && i + 1 < script.length) {
      appendText(script[++i] as string)
    } else if (char === '$') {
      if (script[i + 1] === '(') return undefined
      const end = readVariable(i)
      if (end < 0) return undefined
      i = end
    } else if (char === ' ' || char === '\t') {
      endWord()
    } else if (char === ';' || char === '\n') {
      endCommand('always')
    } else if (char === '&' && script[i + 1] === '&') {
      endCommand('and')
      i++
    } else if (char === '|' && script[i + 1] === '|') {
      endCommand('or')
      i++
    } else if (char === '#' && word === undefined) {
      const newline = script.indexOf('\n', i)
      if (newline < 0) break
      i = newline - 1
    } else if ('|&<>(){}`'.includes(char)) {
      if (char === '>' && word === undefined && script.startsWith('>&2', i)) {
        endWord()
        words.push(['>&2'])
        i += 2
        continue
      }
      return undefined
    } else {
      appendText(char)
    }
  }
  endCommand('always')
  return steps.length === 0 ? { steps: [{ kind: 'status', code: 0, when: 'always' }] } : { steps }
}

const encoder = new TextEncoder()

/**
 * One running program. It runs steps synchronously until one blocks (a sleep holds
 * one timer, `cat` waits for stdin, an unknown command waits for a signal) and tells
 * its host when it exits.
 */
export class SimProcess {
  private pc = 0
  private timer: NodeJS.Timeout | undefined
  private readingStdin = false
  private stdinClosed = false
  private done = false
  /** Set when the program ended with `exit`, which ends an interactive shell too. */
  private exitedByCommand = false
  /** An interactive shell's line being typed and the command line it runs. */
  private shell: { line: string, child: SimProcess | undefined } | undefined

  /** `status` is `$?` at start: a shell's command line sees the previous line's. */
  constructor (private readonly program: Program, private readonly host: ProcessHost, private status = 0) {}

  get running (): boolean { return !this.done }
  /** True while the program echoes its stdin. */
  get wantsStdin (): boolean { return this.readingStdin }

  /** Runs from the current step until the program blocks or exits. */
  run (): void {
    const steps = this.program.steps
    while (!this.done && this.pc < steps.length) {
      const step = steps[this.pc++] as Step
      if (step.when === 'and' && this.status !== 0) continue
      if (step.when === 'or' && this.status === 0) continue
      switch (step.kind) {
        case 'echo': {
          const text = step.words.map((word) => this.expand(word)).join(' ') + (step.newline ? '\n' : '')
          if (text !== '') this.host.write(step.stream, encoder.encode(text))
          this.status = 0
          break
        }
        case 'status':
          this.status = step.code
          break
        case 'exit': {
          const code = step.code === undefined ? this.status : Number.parseInt(this.expand(step.code), 10)
          this.exitedByCommand = true
          this.finish(Number.isNaN(code) ? 2 : code & 0xff)
          return
        }
        case 'sleep':
          this.status = 0
          if (step.ms === Infinity) return
          this.timer = setTimeout(() => { this.timer = undefined; this.run() }, step.ms)
          this.timer.unref?.()
          return
        case 'cat':
          this.status = 0
          if (this.stdinClosed) break
          this.readingStdin = true
          return
        case 'forever':
          if (this.shell !== undefined || this.host instanceof ShellLine) {
            this.host.write(2, encoder.encode(`sh: ${step.command}: not found\n`))
            this.status = 127
            break
          }
          return
        case 'shell':
          if (!this.host.interactive) return
          this.shell = { line: '', child: undefined }
          this.readingStdin = true
          this.prompt()
          return
      }
    }
    if (!this.done) this.finish(this.status)
  }

  /** Bytes written to the program's stdin. */
  stdin (bytes: Uint8Array): void {
    if (!this.readingStdin || this.done) return
    if (this.shell === undefined) this.host.write(1, bytes)
    else this.typed(bytes)
  }

  /** The program's stdin reached EOF: `cat` finishes, a shell exits with its last status. */
  stdinEnd (): void {
    this.stdinClosed = true
    if (!this.readingStdin || this.done) return
    if (this.shell !== undefined) {
      this.shell.child?.kill()
      this.finish(this.status)
      return
    }
    this.readingStdin = false
    this.status = 0
    this.run()
  }

  /** Ends the program from outside (a signal); the host records the exit code itself. */
  kill (): void {
    this.done = true
    this.shell?.child?.kill()
    this.shell = undefined
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.readingStdin = false
  }

  private prompt (): void {
    if (this.host.tty) this.host.write(1, encoder.encode('/ # '))
  }

  /** Keys typed into an interactive shell: a terminal echoes them and edits the line. */
  private typed (bytes: Uint8Array): void {
    const shell = this.shell as { line: string, child: SimProcess | undefined }
    const tty = this.host.tty
    for (const byte of bytes) {
      if (this.done) return
      if (shell.child !== undefined) {
        if (byte !== 0x03 || !tty) continue
        shell.child.kill()
        shell.child = undefined
        this.status = 130
      }
      if (byte === 0x0d || byte === 0x0a) {
        if (byte === 0x0a && tty) continue
        if (tty) this.host.write(1, encoder.encode('\r\n'))
        const line = shell.line
        shell.line = ''
        this.runLine(line)
      } else if (byte === 0x03 && tty) {
        this.host.write(1, encoder.encode('^C\r\n'))
        shell.line = ''
        this.prompt()
      } else if (byte === 0x04 && tty) {
        if (shell.line === '') {
          this.finish(this.status)
          return
        }
      } else if ((byte === 0x7f || byte === 0x08) && tty) {
        if (shell.line !== '') {
          shell.line = shell.line.slice(0, -1)
          this.host.write(1, encoder.encode('\b \b'))
        }
      } else {
        shell.line += String.fromCharCode(byte)
        if (tty) this.host.write(1, Uint8Array.of(byte))
      }
    }
  }

  private runLine (line: string): void {
    const shell = this.shell as { line: string, child: SimProcess | undefined }
    if (line.trim() === '') {
      this.prompt()
      return
    }
    const program = compileScript(line)
    if (program === undefined) {
      this.host.write(2, encoder.encode(`sh: the simulator's shell does not run: ${line}\n`))
      this.status = 2
      this.prompt()
      return
    }
    const child = new SimProcess(program, new ShellLine(this), this.status)
    shell.child = child
    child.run()
  }

  /** A command line of the interactive shell ended. */
  lineDone (code: number, child: SimProcess): void {
    if (this.shell?.child !== child) return
    this.shell.child = undefined
    this.status = code
    if (child.exitedByCommand) this.finish(code)
    else this.prompt()
  }

  /** Output of a command line, through the shell to its host (newlines become CRLF on a terminal). */
  lineOutput (stream: OutputStream, bytes: Uint8Array): void {
    this.host.write(stream, this.host.tty ? encoder.encode(new TextDecoder().decode(bytes).replace(/\r?\n/g, '\r\n')) : bytes)
  }

  /** The host's environment, for a command line's variables. */
  hostEnv (name: string): string | undefined {
    return this.host.env(name)
  }

  private finish (code: number): void {
    this.kill()
    this.host.exited(code, this)
  }

  private expand (word: Word): string {
    if (word.length === 1) return word[0] as string
    let text = ''
    for (let i = 0; i < word.length; i++) {
      const part = word[i] as string
      if (i % 2 === 0) text += part
      else text += part === '?' ? String(this.status) : (this.host.env(part) ?? '')
    }
    return text
  }
}

/** The host of one command line typed into an interactive shell. */
class ShellLine implements ProcessHost {
  readonly interactive = false
  readonly tty = false

  constructor (private readonly shell: SimProcess) {}

  write (stream: OutputStream, bytes: Uint8Array): void { this.shell.lineOutput(stream, bytes) }
  exited (code: number, process: SimProcess): void { this.shell.lineDone(code, process) }
  env (name: string): string | undefined { return this.shell.hostEnv(name) }
}

/** Signal names and numbers as `docker kill --signal` and `docker stop --signal` accept them. */
const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15,
  STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, PWR: 30, SYS: 31
}

/** The signal number of `SIGTERM`, `TERM` or `15`; `undefined` when it names none. */
export function parseSignal (text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const number = Number(text)
    return number > 0 && number < 65 ? number : undefined
  }
  const name = text.toUpperCase().replace(/^SIG/, '')
  return SIGNALS[name]
}

/** Signals whose default action leaves a process running. */
export function signalIsIgnored (signal: number): boolean {
  return signal === 17 || signal === 18 || signal === 23 || signal === 28
}
