import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { integers, outOfBounds, withinBounds } from '../bounds.js'
import { deferred } from '../deferred.js'
import { EXIT_NO_MASTER, OptionError, StateError } from '../errors.js'
import { SLAVE_OPTIONS, checkKnownOptions, checkOption } from '../option-specs.js'
import type { SlaveOptions } from '../options.js'
import { SLAVE_EXIT_RESTART } from './abandoned.js'
import { HANDOVER_ENV, isHandoverAsked } from './master-handover.js'
import { PARENT_WATCH_ENV } from './parent-watch.js'
import type { MasterHandover } from './master-handover.js'

/**
 * Most slave processes one command starts on its machine (`--spawn`, `--procs`): a
 * process per core is the useful most, and each is a Node.js process of tens of MB; a
 * typo of a few zeros must not fork-bomb the machine.
 */
export const MAX_LOCAL_SLAVES = 256

/** The tm-slave command of this package. */
export const SLAVE_BIN = fileURLToPath(new URL('../../bin/tm-slave.js', import.meta.url))

/** Exit code of a slave that could not start (bad usage, refused by the master): starting it again would not help. */
const EXIT_USAGE = 2

/** How long a crashed slave waits to be started again: a slave that crashes at once does not spin. */
const CRASH_DELAY_MS = 500

/** The slave options a local slave takes as tm-slave's flags of the same name (see SLAVE_OPTIONS). */
export type LocalSlaveSettings = Pick<
  SlaveOptions,
  'concurrency' | 'prefetch' | 'batch' | 'linger' | 'setupTimeout' | 'reconnect' | 'maxFrame'
>

/** Every field of {@link LocalSlaveSettings}: the type says it has them all. */
const SETTING_NAMES = Object.keys({
  concurrency: 0,
  prefetch: 0,
  batch: 0,
  linger: 0,
  setupTimeout: 0,
  reconnect: 0,
  maxFrame: 0,
} satisfies Record<keyof LocalSlaveSettings, 0>)

/** Options of {@link LocalSlaves}. */
export interface LocalSlavesOptions {
  /** Slave processes to run, from 1 to {@link MAX_LOCAL_SLAVES}. */
  count: number
  /** The handler module each runs (`path[:export]`, as tm-slave takes it). Absent: it is in {@link args}. */
  handler?: string
  /** The master's address (`host:port`, `ws://host:port`, `wss://host:port`). Absent: in {@link args}, else tm-slave's default, or see {@link awaitMaster}. */
  host?: string
  /**
   * The master's address (and token) comes later, from {@link LocalSlaves.listening}: the
   * slaves started before it start Node and load their handler at once, then wait for it
   * (over an IPC channel), so a master that starts its slaves with itself has them ready
   * when it listens; a slave started after it gets the address on its command line. Give
   * neither {@link host} nor {@link token}. @default false
   */
  awaitMaster?: boolean
  /** The run's token, given to each in `TM_TOKEN` (never on its command line, where `ps` shows it). */
  token?: string
  /** Slave options, passed as tm-slave's flags. */
  slave?: LocalSlaveSettings
  /** More tm-slave arguments, after those (`--log-format json`, `--ca ca.pem`). */
  args?: readonly string[]
  /** The environment of each. @default process.env */
  env?: NodeJS.ProcessEnv
  /** Node flags of each process. @default [] (the handler runs under Node's defaults, as tm-slave on another machine; NODE_OPTIONS in env still applies) */
  execArgv?: readonly string[]
  /**
   * Each line a slave prints, as `[slave <n>] <line>`, and the line that says a slave is
   * started again. Absent: the slaves write to this process's stdout and stderr.
   */
  log?: (line: string) => void
  /** A slave exited 2 (bad usage, refused by the master, a handler that cannot load): it is not started again, and this is told why. */
  onFatal?: (message: string) => void
  /** A slave that crashes (any exit but 0, 2 and the restart code 3, or a signal) is started again after half a second. @default true */
  restartCrashed?: boolean
  /**
   * Whether the run still wants slaves: one that exits 0 while this says so is started
   * again (a handler that called `process.exit(0)` mid-run), or the run would wait for ever.
   * @default () => false (exit 0 is a slave done: the run is complete)
   */
  wanted?: () => boolean
  /** Seconds a slave has to exit after {@link LocalSlaves.stop} before it is killed (SIGKILL); 0: never. @default 10 */
  killAfter?: number
}

/** Every field of {@link LocalSlavesOptions}: the type says it has them all. */
const OPTION_NAMES = Object.keys({
  count: 0,
  handler: 0,
  host: 0,
  token: 0,
  slave: 0,
  args: 0,
  env: 0,
  execArgv: 0,
  log: 0,
  onFatal: 0,
  restartCrashed: 0,
  wanted: 0,
  killAfter: 0,
  awaitMaster: 0,
} satisfies Record<keyof LocalSlavesOptions, 0>)

/** The tm-slave arguments of `options`: the handler, `--host`, the slave options as flags, then the others. */
export function localSlaveArgs(options: Pick<LocalSlavesOptions, 'handler' | 'host' | 'slave' | 'args'>): string[] {
  if (options.slave !== undefined) checkKnownOptions(options.slave, SETTING_NAMES, 'a local slave', 'options.slave')
  const args = options.handler === undefined ? [] : [options.handler]
  if (options.host !== undefined) args.push('--host', options.host)
  for (const [name, value] of Object.entries(options.slave ?? {}) as [keyof LocalSlaveSettings, number | undefined][]) {
    if (value === undefined) continue
    const spec = SLAVE_OPTIONS[name]
    checkOption(spec, value, `slave.${name}`)
    args.push(longFlag(spec.flag.flags), String(value))
  }
  return [...args, ...(options.args ?? [])]
}

/** The long flag of commander's flags: `--concurrency` of `-c, --concurrency <n>`. */
const longFlag = (flags: string): string => /--[a-z][a-z-]*/.exec(flags)![0]

/**
 * Slave processes on this machine (`tm-master --spawn`, `tm-slave --procs`): each runs
 * `tm-slave` in its own process group, so a Ctrl-C reaches only the process that started
 * them, which stops them in its turn. A slave that exits to free its abandoned jobs
 * (SLAVE_EXIT_RESTART) is started again at once; one that crashes, after half a second
 * (`restartCrashed`); one that exits 2 (a user error) never. {@link exited} before
 * {@link start} resolves at once with 0 (nothing started), and {@link start} after
 * {@link stop} throws a StateError.
 */
export class LocalSlaves {
  readonly #options: LocalSlavesOptions
  #argv: string[]
  #env: NodeJS.ProcessEnv
  /** With awaitMaster: the master's address and token once {@link listening} gave them. */
  #master: MasterHandover | undefined
  /** Slaves that asked for the master's address before it was known. */
  readonly #asking = new Set<ChildProcess>()
  readonly #killAfterMs: number
  /** The live process of each slave, by number. */
  readonly #children = new Map<number, ChildProcess>()
  /** Slaves waiting to be started again, with the code they exited with. */
  readonly #restarts = new Map<number, { timer: NodeJS.Timeout; code: number }>()
  /** Slaves not yet exited for good (a slave never started counts until the stop). */
  #left: number
  /** The highest code a slave exited with for good. */
  #code = 0
  /** A slave exited 4: no master answered it. */
  #noMaster = false
  /** A slave exited 0: it saw the run end. */
  #sawEnd = false
  readonly #exited = deferred<number>()
  /** Slaves started so far: numbers 1 to this. */
  #started = 0
  #stopping = false

  /** Checks the options; throws an {@link OptionError} for an unknown option, a count or a slave option out of its bounds, or no handler. */
  constructor(options: LocalSlavesOptions) {
    checkKnownOptions(options, OPTION_NAMES, 'LocalSlaves')
    const count = integers(1, MAX_LOCAL_SLAVES)
    if (!withinBounds(count, options.count)) throw new OptionError(`options.count ${outOfBounds(count, String(options.count))}`, 'count')
    if (options.handler !== undefined && (typeof options.handler !== 'string' || options.handler === ''))
      throw new OptionError(
        `options.handler must be a module path[:export], got ${typeof options.handler === 'string' ? "''" : typeof options.handler}`,
        'handler',
      )
    if (options.args !== undefined && (!Array.isArray(options.args) || !options.args.every((a) => typeof a === 'string')))
      throw new OptionError('options.args must be an array of strings (tm-slave arguments)', 'args')
    if (options.handler === undefined && (options.args === undefined || options.args.length === 0))
      throw new OptionError(
        'options.handler must be given: the handler module each slave runs (path[:export]), or in options.args',
        'handler',
      )
    const killAfter = options.killAfter ?? 10
    if (!(killAfter >= 0)) throw new OptionError(`options.killAfter must be a number of seconds >= 0, got ${killAfter}`, 'killAfter')
    if (options.awaitMaster === true && (options.host !== undefined || options.token !== undefined))
      throw new OptionError('options.awaitMaster goes without options.host and options.token: listening() gives them', 'awaitMaster')
    this.#options = options
    this.#argv = [...(options.execArgv ?? []), SLAVE_BIN, ...localSlaveArgs(options)]
    this.#env = options.token === undefined ? (options.env ?? process.env) : { ...(options.env ?? process.env), TM_TOKEN: options.token }
    this.#killAfterMs = killAfter * 1000
    this.#left = options.count
  }

  /**
   * Starts the slaves not started yet, up to `upTo` of them in all (by default every one):
   * with {@link LocalSlavesOptions.awaitMaster}, some may start before the master listens
   * and the others once it does. Throws a {@link StateError} after {@link stop}: a stopped
   * group is never started again.
   */
  start(upTo = this.#options.count): void {
    if (this.#stopping) throw new StateError('LocalSlaves.start() after stop(): stopped slaves are never started again')
    const last = Math.min(upTo, this.#options.count)
    for (let n = this.#started + 1; n <= last; n++) this.#spawn(n)
    this.#started = Math.max(this.#started, last)
  }

  /**
   * With {@link LocalSlavesOptions.awaitMaster}: the master listens at `host` (with
   * `token`). Hands them to the slaves waiting for them; the slaves started from now on
   * (or started again) get them as any local slave does. Once only.
   */
  listening(host: string, token?: string): void {
    if (this.#options.awaitMaster !== true) throw new OptionError('listening() is for local slaves started with options.awaitMaster')
    if (this.#master !== undefined) return
    this.#master = { type: 'master', host, ...(token === undefined ? {} : { token }) }
    this.#argv = [...(this.#options.execArgv ?? []), SLAVE_BIN, ...localSlaveArgs({ ...this.#options, host })]
    this.#env = token === undefined ? this.#env : { ...this.#env, TM_TOKEN: token }
    for (const child of this.#asking) this.#handOver(child)
    this.#asking.clear()
  }

  /** Sends a waiting slave the master's address. One that exited meanwhile is started again with it: a failed send is no error. */
  #handOver(child: ChildProcess): void {
    if (child.connected && this.#master !== undefined) child.send(this.#master, () => undefined)
  }

  /**
   * Resolves once every slave has exited for good (none is left to start again): with the
   * highest exit code (1 for a signal). Before {@link start}: at once, with 0 (nothing started).
   */
  exited(): Promise<number> {
    if (this.#started === 0) return Promise.resolve(0)
    return this.#exited.promise
  }

  /**
   * Stops the slaves: `signal` to each (again at each call: a second SIGINT stops a tm-slave
   * at once), SIGKILL after `killAfter`; none is started again. Resolves as {@link exited}.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    this.#stopping = true
    for (const [n, { timer, code }] of this.#restarts) {
      clearTimeout(timer)
      this.#restarts.delete(n)
      this.#ended(code)
    }
    for (const child of this.#children.values()) {
      child.kill(signal)
      if (this.#killAfterMs > 0) setTimeout(() => child.kill('SIGKILL'), this.#killAfterMs).unref()
    }
    // The slaves never started now never will: they are no longer waited for.
    this.#left -= this.#options.count - this.#started
    this.#settled()
    return this.#exited.promise
  }

  #spawn(n: number): void {
    const log = this.#options.log
    // Before the master listens, a slave waits for its address on an IPC channel.
    const waits = this.#options.awaitMaster === true && this.#master === undefined
    const stdio: ('ignore' | 'inherit' | 'pipe' | 'ipc')[] =
      log === undefined ? ['inherit', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe']
    // Each slave watches this process through an IPC channel (parent-watch.ts): it ends with it.
    const env = { ...this.#env, [PARENT_WATCH_ENV]: '1' }
    const child = spawn(process.execPath, this.#argv, {
      env: waits ? { ...env, [HANDOVER_ENV]: '1' } : env,
      stdio: [...stdio, 'ipc'],
      detached: true,
    })
    // The channel must not keep this process alive.
    child.channel?.unref()
    if (waits) {
      child.on('message', (message) => {
        if (!isHandoverAsked(message)) return
        if (this.#master === undefined) this.#asking.add(child)
        else this.#handOver(child)
      })
    }
    this.#children.set(n, child)
    if (log !== undefined) {
      for (const stream of [child.stdout!, child.stderr!])
        createInterface({ input: stream }).on('line', (line) => log(`[slave ${n}] ${line}`))
    }
    child.on('exit', (code, signal) => {
      this.#children.delete(n)
      this.#asking.delete(child)
      const delay = this.#again(n, code)
      if (delay === undefined) {
        this.#ended(code ?? 1)
        return
      }
      // A slave that exits to free its abandoned jobs asked to be replaced: no crash delay.
      log?.(
        `[slave ${n}] exited (${signal ?? `code ${code}`}); starting it again${code === SLAVE_EXIT_RESTART ? ' (abandoned jobs were still running in it)' : ''}`,
      )
      const timer = setTimeout(() => {
        this.#restarts.delete(n)
        this.#spawn(n)
      }, delay)
      timer.unref()
      this.#restarts.set(n, { timer, code: code ?? 1 })
    })
  }

  /** Milliseconds before slave `n`, which exited with `code` (null: by a signal), starts again; undefined: it does not. */
  #again(n: number, code: number | null): number | undefined {
    if (this.#stopping) return undefined
    if (code === SLAVE_EXIT_RESTART) return 0
    if (code === EXIT_USAGE) {
      this.#options.onFatal?.(`Local slave ${n} could not start (exit code 2, see its message above)`)
      return undefined
    }
    if (code === 0) return (this.#options.wanted?.() ?? false) ? CRASH_DELAY_MS : undefined
    return (this.#options.restartCrashed ?? true) ? CRASH_DELAY_MS : undefined
  }

  /** A slave exited for good with `code`. */
  #ended(code: number): void {
    if (code === EXIT_NO_MASTER) this.#noMaster = true
    else this.#code = Math.max(this.#code, code)
    if (code === 0) this.#sawEnd = true
    this.#left--
    this.#settled()
  }

  /** Resolves {@link exited} once no slave is left. */
  #settled(): void {
    // A slave that found no master (exit 4) beside one that saw the run end (exit 0) came
    // after the run was over: the group ends as the run did.
    if (this.#left === 0) this.#exited.resolve(this.#code === 0 && this.#noMaster && !this.#sawEnd ? EXIT_NO_MASTER : this.#code)
  }
}
