import { OptionError } from './errors.js'
import { MIN_FRAME } from './protocol/messages.js'

/**
 * Upper bounds of the numeric options, shared by the API and the CLI.
 * - `size`: the ledger holds a window of 8 × size jobs in typed arrays (about 30 bytes a
 *   job before the jobs themselves): a million is some 250 MB; far beyond, allocation fails.
 * - `batchSize`: a batch never holds more jobs than the buffer can.
 * - `maxFrame`: 1 GiB; ws keeps its payload limit in a 32-bit signed integer.
 * - `seconds` (every option in seconds): a week; timers take at most 2^31-1 ms (24.8 days)
 *   and silently fire after 1 ms beyond, and a slave waits 2.5 heartbeats.
 * - `concurrency`, `prefetch`: a slave's lanes and its credit.
 */
export const OPTION_LIMITS = {
  size: 1_000_000,
  batchSize: 1_000_000,
  maxFrame: 2 ** 30,
  seconds: 604_800,
  concurrency: 100_000,
  prefetch: 1_000_000,
} as const

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
}

/** What a jobs module exports (the CLI loads it; a script may build it by hand). */
export interface JobSource {
  /** The job generator, called as `getJobs(last, ctx)`. */
  getJobs: JobGenerator
  /** How a job's resume key is read; default: `job.id`, the job itself if it is a key, else its position. */
  key?: (job: any) => JobKey
  /** Number of jobs, for the progress display: a number, or a (async) function of `{ args }` returning one. */
  total?: number | ((ctx: { args: Record<string, string> }) => number | Promise<number>)
}

/** A handler: called with each job, sync or async; a throw or rejection fails the job. */
export type Handler = (job: any, ctx: HandlerContext) => unknown

/** Second argument of the handler; valid while the job runs (it is reused for the next job). */
export interface HandlerContext {
  /** 1 on the first try of this job, 2 on the first retry, ... */
  readonly attempt: number
  /** Aborted when the master takes the job back (`--job-timeout`): pass it to fetch, queries, timers. */
  readonly signal: AbortSignal
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
  /** `name=value` arguments handed to the generator as `ctx.args`. @default {} */
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
}

/** Options of {@link Slave}. Everything but `handler` and `host` is optional. */
export interface SlaveOptions {
  /** Called with each job (and a {@link HandlerContext}); sync or async. */
  handler: Handler
  /** `host:port`, `ws://host:port` or `wss://host:port` of the master. */
  host: string
  /** Jobs run at once in this process. @default 1 */
  concurrency?: number
  /**
   * A fixed window: jobs held beyond those running, always. Undefined: the adaptive window,
   * which holds enough jobs to cover the measured round trip to the master plus about
   * 50 ms of work at the measured job rate (at least `concurrency`, at most 8192 or
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

function nonEmpty(value: string, name: string): void {
  if (value.length === 0) throw new OptionError(`options.${name} must not be empty`, name)
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
  args: { default: {} as Record<string, string> },
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
} satisfies { [K in keyof Omit<MasterOptions, 'source'>]-?: OptionSpec<MasterOptions[K]> }

/**
 * Every {@link SlaveOptions} field but `handler` and `host` (see MASTER_OPTIONS). `prefetch`
 * has no default: without it the window is adaptive.
 */
const SLAVE_OPTIONS = {
  concurrency: { default: 1, check: integer(1, OPTION_LIMITS.concurrency) },
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
} satisfies { [K in keyof Omit<SlaveOptions, 'handler' | 'host'>]-?: OptionSpec<SlaveOptions[K]> }

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
export type ResolvedMasterOptions = typeof MASTER_DEFAULTS & { source: JobSource }
/** {@link SlaveOptions} with every default filled in. */
export type ResolvedSlaveOptions = typeof SLAVE_DEFAULTS & { handler: Handler; host: string }

/** Copies `options` without its undefined values, so they do not hide defaults. */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** Fills defaults and validates; throws an {@link OptionError} naming the bad option. */
export function resolveMasterOptions(options: MasterOptions): ResolvedMasterOptions {
  const o = { ...MASTER_DEFAULTS, ...defined(options) } as ResolvedMasterOptions
  if (typeof o.source?.getJobs !== 'function') throw new OptionError('options.source.getJobs must be a function', 'source')
  check(MASTER_OPTIONS, o)
  return o
}

/** Fills defaults and validates; throws an {@link OptionError} naming the bad option. */
export function resolveSlaveOptions(options: SlaveOptions): ResolvedSlaveOptions {
  const o = { ...SLAVE_DEFAULTS, ...defined(options) } as ResolvedSlaveOptions
  if (typeof o.handler !== 'function') throw new OptionError('options.handler must be a function', 'handler')
  if (typeof o.host !== 'string' || o.host.length === 0) throw new OptionError('options.host must be a host:port string', 'host')
  check(SLAVE_OPTIONS, o)
  return o
}
