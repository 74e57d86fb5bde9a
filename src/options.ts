import { OptionError } from './errors.js'
import { MIN_FRAME } from './protocol/messages.js'
import type { Shard } from './shard.js'
import { SHARD_ARG, checkShard, shardSuffix } from './shard.js'
import { resolveRunArgs } from './run-args.js'

/**
 * Upper bounds of the numeric options, shared by the API and the CLI.
 * - `size`: the ledger holds a window of 8 × size jobs in typed arrays (about 30 bytes a
 *   job before the jobs themselves): a million is some 250 MB; far beyond, allocation fails.
 * - `batchSize`: a batch never holds more jobs than the buffer can.
 * - `maxFrame`: 1 GiB; ws keeps its payload limit in a 32-bit signed integer.
 * - `seconds` (every option in seconds): a week; timers take at most 2^31-1 ms (24.8 days)
 *   and silently fire after 1 ms beyond, and a slave waits 2.5 heartbeats.
 * - `concurrency`, `prefetch`: a slave's lanes and its credit.
 * - `batch`: jobs per `handleBatch` call; `linger`: milliseconds waited to fill one.
 * The controls a run can change while it runs have their own spec, {@link CONTROL_LIMITS}.
 */
export const OPTION_LIMITS = {
  size: 1_000_000,
  batchSize: 1_000_000,
  maxFrame: 2 ** 30,
  seconds: 604_800,
  concurrency: 100_000,
  prefetch: 1_000_000,
  batch: 100_000,
  linger: 60_000,
} as const

/** The bounds of a control: a finite number from `min` to `max` (a whole one if `integer`), `what` in words. */
export interface ControlLimit {
  min: number
  max: number
  integer: boolean
  what: string
}

/**
 * The bounds of the limits a run can change while it runs: the one spec that the library
 * options, the CLI flags, the master's setters, `POST /rate` / `/max-in-flight` and `tm-ctl`
 * all check (each naming the value as its user wrote it).
 * - `rate`: jobs per second over the fleet. At least a job every 1,000 s: slower, the wait
 *   for a token outgrows what anyone means (and, far below, what a timer takes); at most ten
 *   times what one master has been measured to send.
 * - `maxInFlight`: jobs in flight over the fleet.
 */
export const CONTROL_LIMITS = {
  rate: { min: 0.001, max: 10_000_000, integer: false, what: 'a number of jobs per second' },
  maxInFlight: { min: 1, max: 100_000_000, integer: true, what: 'a whole number of jobs' },
} as const satisfies Record<string, ControlLimit>

/** A control's range in words: `a number of jobs per second from 0.001 to 10000000`. */
export function limitRange(limit: ControlLimit): string {
  return `${limit.what} from ${limit.min} to ${limit.max}`
}

/** True when `value` is within `limit`: a finite number (whole if it must be) from min to max. NaN, Infinity and non-numbers are not. */
export function withinLimit(limit: ControlLimit, value: unknown): value is number {
  return typeof value === 'number' && value >= limit.min && value <= limit.max && (!limit.integer || Number.isInteger(value))
}

/** Throws an {@link OptionError} naming `name` (as its user wrote it) unless `value` is within `limit`; `also` adds what else it may be. */
export function checkLimit(limit: ControlLimit, value: unknown, name: string, option: string, also = ''): void {
  if (!withinLimit(limit, value)) throw new OptionError(`${name} must be ${limitRange(limit)}${also}, got ${String(value)}`, option)
}

/** A job generator: `getJobs(last, ctx)`, sync or async. */
export type JobGenerator = (last: JobKey | undefined, ctx: GeneratorContext) => Iterable<unknown> | AsyncIterable<unknown>

/** What identifies a job across runs; the checkpoint stores these. */
export type JobKey = number | string | bigint

/** Second argument of the generator. */
export interface GeneratorContext {
  /** How many jobs of the generator are known finished (the first `position` jobs). */
  position: number
  /** The `name=value` arguments of the run. */
  args: Record<string, string>
  /** Which of n masters sharing the dataset runs this generator (`--shard i/n`): yield only its part. Absent: not sharded. */
  shard?: Shard
}

/** What a jobs module exports (the CLI loads it; a script may build it by hand). */
export interface JobSource {
  /** The job generator, called as `getJobs(last, ctx)`. */
  getJobs: JobGenerator
  /** How a job's resume key is read; default: `job.id`, the job itself if it is a key, else its position. */
  // A job is whatever the user's generator yields: `any` lets a typed key function fit.
   
  key?: (job: any) => JobKey
  /** Number of jobs, for the progress display: a number, or a (async) function of `{ args }` returning one. */
  total?: number | ((ctx: { args: Record<string, string>; shard?: Shard }) => number | Promise<number>)
  /** The module's file, named in a message about a call of it that did not finish (the CLI sets it). */
  module?: string
}

/** A handler: called with each job, sync or async; a throw or rejection fails the job. */
// A job is whatever the user's generator yields: `any` lets a handler typed for its jobs fit.
 
export type Handler = (job: any, ctx: HandlerContext) => unknown

/** Second argument of the handler; valid while the job runs (it is reused for the next job). */
export interface HandlerContext {
  /** 1 on the first try of this job, 2 on the first retry, ... */
  readonly attempt: number
  /** Aborted when the master takes the job back (`--job-timeout`): pass it to fetch, queries, timers. */
  readonly signal: AbortSignal
  /** What the handler module's `setup` returned (undefined without one). */
  readonly state: any
  /** The run's `name=value` arguments (the master's command line). */
  readonly args: Readonly<Record<string, string>>
}

/**
 * A batch handler: called with up to `batch` jobs at once, sync or async. A throw fails
 * the batch, which is split in halves and run again down to single jobs, so a bad job
 * ends alone; it may instead return the jobs that failed (see {@link BatchFailure}).
 */
export type BatchHandler = (jobs: any[], ctx: BatchContext) => unknown

/** Second argument of a batch handler; valid while the batch runs. */
export interface BatchContext {
  /** The attempt of each job (`attempts[i]` is that of `jobs[i]`): 1 on a first try. */
  readonly attempts: readonly number[]
  /** Aborted when the call runs past `--job-timeout` (the slave splits its jobs and runs them again), or the master takes a job of it back. */
  readonly signal: AbortSignal
  /** What the handler module's `setup` returned (undefined without one). */
  readonly state: any
  /** The run's `name=value` arguments. */
  readonly args: Readonly<Record<string, string>>
}

/**
 * A job of a batch that failed, as a batch handler may return them (an array): the job
 * by its `index` in the batch, or the `job` itself (the same object), and its `error`.
 * The other jobs of the batch are done.
 */
export interface BatchFailure {
  index?: number
  job?: unknown
  error: unknown
}

/** Argument of a handler module's `setup`. */
export interface SetupContext {
  /** The run's `name=value` arguments. */
  readonly args: Readonly<Record<string, string>>
  /** Handler calls this slave process runs at once (`--concurrency`): size pools from it. */
  readonly concurrency: number
  /** Most jobs per `handleBatch` call (`--batch`); 1 for `handleJob`. */
  readonly batch: number
}

/** Optional lifecycle exports of a handler module. */
export interface HandlerLifecycle {
  /** Runs before the first job of a run; what it returns is `ctx.state` of every call. */
  setup?: (ctx: SetupContext) => unknown
  /** Runs at the end of a run and on a graceful stop, with what `setup` returned. */
  teardown?: (state: any) => unknown
}

/**
 * A throttle check (`--throttle`): called on the master every `throttleInterval` seconds
 * with the run's arguments; returns (or resolves to) false or undefined to let jobs go,
 * true or a reason to hold dispatch. `signal` is aborted when the check has run past its
 * interval (its answer is then ignored): pass it to queries and fetches.
 */
export type ThrottleCheck = (ctx: { args: Readonly<Record<string, string>>; signal: AbortSignal }) => unknown

/** A throttle check with the name the status shows (the CLI names it by its module). */
export interface NamedThrottle {
  check: ThrottleCheck
  name: string
}

/** TLS files for `wss://`. */
export interface TlsOptions {
  cert: string | Buffer
  key: string | Buffer
}

/** Options of {@link Master}. Everything but `source` is optional. */
export interface MasterOptions {
  /** The jobs: a generator and optionally `key` and `total`. */
  source: JobSource
  /** The run's name; its state lives in `<stateDir>/<key>.json`. @default 'run' */
  key?: string
  /**
   * `name=value` arguments handed to the generator as `ctx.args`. A value `env:NAME` is the
   * master's environment variable NAME (an error if unset). Secrets (see src/redact.ts) are
   * shown and saved masked. @default {}
   */
  args?: Record<string, string>
  /** Where run state is kept. @default './.taskmaster' */
  stateDir?: string
  /** Forget the saved state and start from the beginning. @default false */
  reset?: boolean
  /**
   * Resume past a damaged journal: it is cut at the first bad record, with a warning, and
   * the jobs it recorded from there on run again (else a damaged journal is refused). @default false
   */
  acceptJournalLoss?: boolean
  /** Address to listen on; port 0 picks a free port. @default '127.0.0.1' */
  host?: string
  /** @default 5050 */
  port?: number
  /** Buffer cap: the generator is pulled only while fewer jobs than this are queued. @default 10000 */
  size?: number
  /** Most jobs per `jobs` frame. @default 1000 */
  batchSize?: number
  /** Seconds between checkpoints. @default 1 */
  checkpointInterval?: number
  /** Seconds between WebSocket pings; a slave silent for two periods is dropped. @default 5 */
  heartbeat?: number
  /** Largest frame accepted, in bytes. @default 16 MiB */
  maxFrame?: number
  /**
   * Most slaves connected at once: a slave's hello beyond it is refused (error code
   * a `FullError`, code `TM_ERR_FULL`) and the slave tries again later. @default 10000
   */
  maxSlaves?: number
  /**
   * Token a slave must present. When undefined and the master listens beyond loopback,
   * one is generated (see {@link Master.token}). @default undefined
   */
  token?: string
  /** Retries of a job whose handler throws, before it goes to the failed-jobs log. @default 3 */
  retries?: number
  /** Seconds before the first retry; each further retry waits twice as long (at most 60 s). @default 1 */
  retryDelay?: number
  /** Seconds a job may be in flight before it is taken back as a failed attempt; 0 is no limit. @default 0 */
  jobTimeout?: number
  /** Serve `wss://` with this certificate and key. @default undefined */
  tls?: TlsOptions
  /** Path of the failed-jobs log. @default '<stateDir>/<key>.failed.jsonl' */
  failedLog?: string
  /**
   * This master runs shard `index` of `count` (1-based) of the dataset: the key gets
   * `.shard-<index>-of-<count>`, the generator gets it as `ctx.shard`, and it is saved with
   * the arguments. @default undefined (not sharded)
   */
  shard?: Shard
  /**
   * Keep the run's state (checkpoint, journal, failed jobs, lock) in this PostgreSQL
   * (`postgres://user:pass@host:5432/db`) instead of files in `stateDir`: tables created on
   * first use, the lock an advisory lock of the master's session. Needs the `pg` package.
   * @default undefined (files)
   */
  stateStore?: string
  /**
   * With `stateStore`: wait for the run's lock (held by the active master's session) and take
   * the run over when that master dies, resuming from its state. @default false
   */
  standby?: boolean
  /**
   * Most jobs per second sent to the whole fleet (a token bucket with a burst of 250 ms of
   * jobs); changeable on a running master (`POST /rate`). @default undefined (no limit)
   */
  rate?: number
  /** Most jobs in flight over the whole fleet; changeable on a running master. @default undefined (no limit) */
  maxInFlight?: number
  /**
   * Start paused: no job goes out until resumed (`POST /resume`, `tm-ctl resume`). A run
   * paused when its master stopped starts paused again whatever this says. @default false
   */
  paused?: boolean
  /** Hold dispatch while this check says so (see {@link ThrottleCheck}). @default undefined */
  throttle?: ThrottleCheck | NamedThrottle
  /** Seconds between two throttle checks, and how long one may take. @default 1 */
  throttleInterval?: number
}

/** Options of {@link Slave}. Everything but `host` and one of `handler` / `batchHandler` is optional. */
export interface SlaveOptions {
  /** Called with each job (and a {@link HandlerContext}); sync or async. */
  handler?: Handler
  /** Called with up to `batch` jobs at once instead (see {@link BatchHandler}). */
  batchHandler?: BatchHandler
  /** Runs once per run before the first job (see {@link HandlerLifecycle}). @default undefined */
  setup?: HandlerLifecycle['setup']
  /** Runs at the end of a run and on a graceful stop. @default undefined */
  teardown?: HandlerLifecycle['teardown']
  /**
   * Seconds `setup` and `teardown` may each take: a setup past it fails (the slave exits
   * as for a setup that throws), a teardown past it is a warning and the slave goes on. @default 60
   */
  setupTimeout?: number
  /** The handler module's file, named in a message about a call of it that did not finish (the CLI sets it). @default undefined */
  module?: string
  /** Most jobs per `batchHandler` call. @default 100 */
  batch?: number
  /** Milliseconds a lane waits for a batch to fill before it runs a smaller one. @default 10 */
  linger?: number
  /** `host:port`, `ws://host:port` or `wss://host:port` of the master. */
  host: string
  /** Jobs run at once in this process. @default 1 */
  concurrency?: number
  /**
   * A fixed window: jobs held beyond those running, always. Undefined: the adaptive window,
   * which holds enough jobs to cover the measured round trip to the master plus 40 ms
   * of work at the measured job rate (at least `concurrency`, at most 8192 or
   * `concurrency`; see src/slave/window.ts). @default undefined (adaptive)
   */
  prefetch?: number
  /** Token of the run. @default undefined */
  token?: string
  /**
   * Seconds to keep trying to (re)connect before giving up. 0: never give up, and after a
   * complete run wait for the next master instead of ending (a long-lived slave). @default 60
   */
  reconnect?: number
  /** CA certificate(s) to trust for `wss://` (for a self-signed master certificate). @default undefined */
  ca?: string | Buffer
  /** Largest frame accepted, in bytes. @default 16 MiB */
  maxFrame?: number
}

/**
 * One option of the library: its default and the check of a given value (which throws an
 * {@link OptionError} naming it). A check sees only values that are not undefined.
 */
export interface OptionSpec<T> {
  default: T
  check?: (value: NonNullable<T>, name: string) => void
}

/** Any {@link OptionSpec} (a check takes `never`, so a check of any value type fits). */
type AnySpec = { default: unknown; check?: (value: never, name: string) => void }

/** The defaults of an options table, in one object. */
export type DefaultsOf<T extends Record<string, AnySpec>> = { [K in keyof T]: T[K]['default'] }

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: number, name: string): void => {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new OptionError(`options.${name} must be an integer >= ${min}, got ${String(value)}`, name)
    }
    if (value > max) throw new OptionError(`options.${name} must be at most ${max}, got ${value}`, name)
  }
}

/** Seconds that go into a timer: bounded so the timer does not overflow (see OPTION_LIMITS). */
function expectTimer(name: string, value: number): void {
  if (value > OPTION_LIMITS.seconds) throw new OptionError(`options.${name} must be at most ${OPTION_LIMITS.seconds} seconds, got ${value}`, name)
}

/** Seconds > 0, at most a timer's. */
function positiveSeconds(value: number, name: string): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new OptionError(`options.${name} must be a positive number, got ${String(value)}`, name)
  }
  expectTimer(name, value)
}

/** Seconds >= 0, at most a timer's. */
function nonNegativeSeconds(value: number, name: string): void {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new OptionError(`options.${name} must be a number >= 0, got ${String(value)}`, name)
  }
  expectTimer(name, value)
}

/** The check of a control's option (see {@link CONTROL_LIMITS}). */
function control(limit: ControlLimit) {
  return (value: number, name: string): void => checkLimit(limit, value, `options.${name}`, name)
}

function throttleCheck(value: ThrottleCheck | NamedThrottle, name: string): void {
  if (typeof value !== 'function' && (typeof value !== 'object' || typeof value.check !== 'function')) throw new OptionError(`options.${name} must be a function ({ args, signal }) => false | true | reason`, name)
}

function nonEmpty(value: string, name: string): void {
  if (value.length === 0) throw new OptionError(`options.${name} must not be empty`, name)
}

function postgresUrl(value: string, name: string): void {
  if (typeof value !== 'string' || !/^postgres(ql)?:\/\//.test(value)) throw new OptionError(`options.${name} must be a postgres:// URL, got '${String(value)}'`, name)
}

/** The run key becomes a file name: keep it to a safe alphabet. */
export function validateRunKey(key: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(key)) {
    throw new OptionError(`The run key (--key, options.key) must be 1-128 characters of letters, digits, '.', '_' or '-' (starting with a letter or digit), got '${key}'`, 'key')
  }
}

/**
 * Every {@link MasterOptions} field but `source`: its default (as documented by the field's
 * `@default`) and its check. Checks run in this order, so the first bad option is named.
 */
const MASTER_OPTIONS = {
  key: { default: 'run', check: validateRunKey },
  args: { default: {} },
  stateDir: { default: './.taskmaster' },
  reset: { default: false },
  acceptJournalLoss: { default: false },
  host: { default: '127.0.0.1' },
  port: { default: 5050, check: integer(0, 65535) },
  size: { default: 10000, check: integer(1, OPTION_LIMITS.size) },
  batchSize: { default: 1000, check: integer(1, OPTION_LIMITS.batchSize) },
  checkpointInterval: { default: 1, check: positiveSeconds },
  heartbeat: { default: 5, check: positiveSeconds },
  maxFrame: { default: 16 * 1024 * 1024, check: integer(MIN_FRAME, OPTION_LIMITS.maxFrame) },
  maxSlaves: { default: 10_000, check: integer(1) },
  token: { default: undefined as string | undefined, check: nonEmpty },
  retries: { default: 3, check: integer(0, 250) },
  retryDelay: { default: 1, check: nonNegativeSeconds },
  jobTimeout: { default: 0, check: nonNegativeSeconds },
  tls: { default: undefined as TlsOptions | undefined },
  failedLog: { default: undefined as string | undefined },
  shard: { default: undefined as Shard | undefined, check: checkShard },
  stateStore: { default: undefined as string | undefined, check: postgresUrl },
  standby: { default: false },
  rate: { default: undefined as number | undefined, check: control(CONTROL_LIMITS.rate) },
  maxInFlight: { default: undefined as number | undefined, check: control(CONTROL_LIMITS.maxInFlight) },
  paused: { default: false },
  throttle: { default: undefined as ThrottleCheck | NamedThrottle | undefined, check: throttleCheck },
  throttleInterval: { default: 1, check: positiveSeconds },
} satisfies { [K in keyof Omit<MasterOptions, 'source'>]-?: OptionSpec<MasterOptions[K]> }

/**
 * Every {@link SlaveOptions} field but `handler` and `host` (see MASTER_OPTIONS). `prefetch`
 * has no default: without it the window is adaptive.
 */
const SLAVE_OPTIONS = {
  concurrency: { default: 1, check: integer(1, OPTION_LIMITS.concurrency) },
  batch: { default: 100, check: integer(1, OPTION_LIMITS.batch) },
  linger: { default: 10, check: integer(0, OPTION_LIMITS.linger) },
  setup: { default: undefined as HandlerLifecycle['setup'] },
  teardown: { default: undefined as HandlerLifecycle['teardown'] },
  setupTimeout: { default: 60, check: positiveSeconds },
  module: { default: undefined as string | undefined },
  prefetch: { default: undefined as number | undefined, check: integer(0, OPTION_LIMITS.prefetch) },
  reconnect: {
    default: 60,
    check: (value: number, name: string) => {
      if (typeof value !== 'number' || !(value >= 0)) throw new OptionError(`options.${name} must be a number of seconds >= 0, got ${String(value)}`, name)
      expectTimer(name, value)
    },
  },
  maxFrame: { default: 16 * 1024 * 1024, check: integer(MIN_FRAME, OPTION_LIMITS.maxFrame) },
  token: { default: undefined as string | undefined },
  ca: { default: undefined as string | Buffer | undefined },
} satisfies { [K in keyof Omit<SlaveOptions, 'handler' | 'batchHandler' | 'host'>]-?: OptionSpec<SlaveOptions[K]> }

function defaultsOf<T extends Record<string, AnySpec>>(table: T): DefaultsOf<T> {
  return Object.fromEntries(Object.entries(table).map(([name, spec]) => [name, spec.default])) as DefaultsOf<T>
}

/** Runs the check of every option of `table` that has a value in `options`, in table order. */
function check(table: Record<string, AnySpec>, options: Record<string, unknown>): void {
  for (const [name, spec] of Object.entries(table)) {
    const value = options[name]
    if (value !== undefined) spec.check?.(value as never, name)
  }
}

/** The default of every {@link MasterOptions} field (see each field's `@default`). */
export const MASTER_DEFAULTS = defaultsOf(MASTER_OPTIONS)

/** The default of every {@link SlaveOptions} field (see each field's `@default`); no `prefetch`: the adaptive window. */
export const SLAVE_DEFAULTS = defaultsOf(SLAVE_OPTIONS)

/** {@link MasterOptions} with every default filled in. */
export type ResolvedMasterOptions = typeof MASTER_DEFAULTS & {
  source: JobSource
  /** `args` as shown and saved: secrets masked (see src/run-args.ts); `args` holds the values, `env:` resolved. */
  shownArgs: Record<string, string>
  /** The secret values masked in `shownArgs`, hidden in log and error lines too. */
  secrets: string[]
}
/** {@link SlaveOptions} with every default filled in. */
export type ResolvedSlaveOptions = typeof SLAVE_DEFAULTS & { handler: Handler | undefined; batchHandler: BatchHandler | undefined; host: string }

/** Copies `options` without its undefined values, so they do not hide defaults. */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** Fills defaults and validates; throws an {@link OptionError} naming the bad option. */
export function resolveMasterOptions(options: MasterOptions): ResolvedMasterOptions {
  const o = { ...MASTER_DEFAULTS, ...defined(options) } as ResolvedMasterOptions
  if (typeof o.source?.getJobs !== 'function') throw new OptionError('options.source.getJobs must be a function', 'source')
  check(MASTER_OPTIONS, o)
  const args = resolveRunArgs(o.args)
  Object.assign(o, { args: args.values, shownArgs: args.shown, secrets: args.secrets })
  if (Object.hasOwn(o.args, SHARD_ARG)) throw new OptionError(`options.args must not name an argument '${SHARD_ARG}': it is where the shard is saved`, 'args')
  if (o.standby && o.stateStore === undefined) throw new OptionError('options.standby needs options.stateStore (--standby needs --state-store postgres://...): a standby takes over a lock held in PostgreSQL', 'standby')
  if (o.standby && o.reset) throw new OptionError('options.standby and options.reset do not go together: a standby resumes the active master\'s run', 'standby')
  if (o.shard !== undefined) {
    // The shard is part of the run's identity: each shard keeps its own state.
    const suffix = shardSuffix(o.shard)
    if (!o.key.endsWith(suffix)) o.key = `${o.key}${suffix}`
    validateRunKey(o.key)
  }
  return o
}

/** Fills defaults and validates; throws an {@link OptionError} naming the bad option. */
export function resolveSlaveOptions(options: SlaveOptions): ResolvedSlaveOptions {
  const o = { ...SLAVE_DEFAULTS, ...defined(options) } as ResolvedSlaveOptions
  if (o.batchHandler === undefined) {
    if (typeof o.handler !== 'function') throw new OptionError('options.handler must be a function', 'handler')
  } else if (typeof o.batchHandler !== 'function') throw new OptionError('options.batchHandler must be a function', 'batchHandler')
  else if (o.handler !== undefined) throw new OptionError('options.handler and options.batchHandler do not go together: give one', 'batchHandler')
  if (typeof o.host !== 'string' || o.host.length === 0) throw new OptionError('options.host must be a host:port string', 'host')
  check(SLAVE_OPTIONS, o)
  return o
}

/** Jobs a lane of this slave runs per handler call: `batch` for a batch handler, else 1. */
export function slaveBatch(o: Pick<ResolvedSlaveOptions, 'batchHandler' | 'batch'>): number {
  return o.batchHandler !== undefined ? o.batch : 1
}
