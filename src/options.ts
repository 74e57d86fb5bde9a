import { OptionError } from './errors.js'
import type { AnySpec, OptionSpec } from './option-specs.js'
import { MASTER_OPTIONS, SLAVE_OPTIONS, checkKnownOptions, checkOption, validateRunKey } from './option-specs.js'
import type { Shard } from './shard.js'
import { SHARD_ARG, shardSuffix } from './shard.js'
import { redactText } from './redact.js'
import { resolveRunArgs } from './run-args.js'

export { validateRunKey } from './option-specs.js'

/** A job generator: `getJobs(last, ctx)`, sync or async. */
export type JobGenerator = (last: JobKey | undefined, ctx: GeneratorContext) => Iterable<unknown> | AsyncIterable<unknown>

/**
 * What a generator may return to be read a page at a time: its jobs as an async generator,
 * and the same jobs, in the same order, by `nextPage()` (keyset() and pgTable() return
 * one). The master reads such a generator by pages: no promise and no iterator result per
 * job, which were most of its allocation on a table walk. A consumer uses one way or the
 * other, not both; `return()` ends both.
 */
export interface PagedGenerator<T> extends AsyncGenerator<T> {
  /** The jobs of the next page, in order (a page may be empty); undefined once there are no more. */
  nextPage: () => Promise<readonly T[] | undefined>
}

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

/** A source's number of jobs: an exact count, or `{ estimate: n }` when it is a guess. */
export type JobTotal = number | { estimate: number }

/** What a source's `total()` and `progress()` are called with: the run's arguments and its shard. */
export interface SourceContext {
  /** The `name=value` arguments of the run. */
  args: Record<string, string>
  /** Which of n masters sharing the dataset this one is (`--shard i/n`). Absent: not sharded. */
  shard?: Shard
}

/** What a jobs module exports (the CLI loads it; a script may build it by hand). */
export interface JobSource {
  /** The job generator, called as `getJobs(last, ctx)`. */
  getJobs: JobGenerator
  /** How a job's resume key is read; default: `job.id`, the job itself if it is a key, else its position. */
  // A job is whatever the user's generator yields: `any` lets a typed key function fit.

  key?: (job: any) => JobKey
  /**
   * Number of jobs, for the progress display: a number, or a (async) function of `{ args }`
   * returning one (undefined: no total). `{ estimate: n }` says n is a guess (a planner's
   * row estimate), not a count.
   */
  total?: JobTotal | ((ctx: SourceContext) => JobTotal | undefined | Promise<JobTotal | undefined>)
  /**
   * The fraction (0 to 1) of the source's key space at or before `last`, the key of the last
   * job known done: progress the source can vouch for when it knows its keys' range
   * (pgTable does for integer keys). undefined: it cannot tell.
   */
  progress?: (last: JobKey, ctx: SourceContext) => number | undefined | Promise<number | undefined>
  /**
   * Checks what the source can before the first job (its database, its table, the run's
   * arguments it needs): called once when the run opens, before the master listens (a retry
   * pass's too), within 30 s. Throw to refuse the run: the master stops with that line (a
   * Taskmaster error's message as it is), exit code 2, and no job goes out.
   */
  check?: (ctx: SourceContext) => void | Promise<void>
  /**
   * The throttle check the run needs, from its arguments (undefined: none), for a master
   * given none of its own (`throttle`): called once after {@link check}, within 30 s.
   */
  throttle?: (ctx: SourceContext) => ThrottleCheck | NamedThrottle | undefined | Promise<ThrottleCheck | NamedThrottle | undefined>
  /** The module's file, named in a message about a call of it that did not finish (the CLI sets it). */
  module?: string
}

/** A handler: called with each job, sync or async; a throw or rejection fails the job. */
// A job is whatever the user's generator yields: `any` lets a handler typed for its jobs fit.

export type Handler = (job: any, ctx: HandlerContext) => unknown

/**
 * The run a slave works for, as its master tells it: the handlers' `ctx.run`. What the
 * package's exactly-once helper (`taskmaster-run/pg`) keys and compacts its claims by.
 */
export interface RunInfo {
  /** The run's key (`--key`, a shard's suffix included); undefined from a master of an earlier version. */
  readonly key: string | undefined
  /**
   * The run's identity: 16 hex digits, the same for every master that resumes the run, new
   * after `--reset` (a `--retry-failed` pass has its own); undefined from a master of an earlier version.
   */
  readonly id: string | undefined
  /** The master incarnation serving the run: a new one after each master restart (seqs are its numbering). */
  readonly incarnation: string
  /**
   * Every job of this incarnation whose seq is below this is finished, and the run's state
   * store holds it: no master runs it again, whatever is killed. 0 until the master says.
   */
  readonly durable: number
}

/** Second argument of the handler; valid while the job runs (it is reused for the next job). */
export interface HandlerContext {
  /** 1 on the first try of this job, 2 on the first retry, ... */
  readonly attempt: number
  /** The job's seq: its position in the generator as this master incarnation numbers it. */
  readonly seq: number
  /** The run, as its master said (see {@link RunInfo}). */
  readonly run: RunInfo
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
  /** The seq of each job (`seqs[i]` is that of `jobs[i]`): its position as this master incarnation numbers it. */
  readonly seqs: readonly number[]
  /** The run, as its master said (see {@link RunInfo}). */
  readonly run: RunInfo
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
  teardown?: (state: any, ctx: TeardownContext) => unknown
}

/** Second argument of a handler module's `teardown`. */
export interface TeardownContext {
  /**
   * The master said the run is complete (every job finished, its last checkpoint written):
   * what was kept against running a job twice may go. False on a stop.
   */
  readonly complete: boolean
  /** The run, as its master last said (see {@link RunInfo}). */
  readonly run: RunInfo
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
 * The tables of src/option-specs.ts, checked to hold every field of the options (but those
 * every caller gives), each spec of the field's type.
 */
const MASTER_TABLE: { [K in keyof Omit<MasterOptions, 'source'>]-?: OptionSpec<MasterOptions[K]> } = MASTER_OPTIONS
const SLAVE_TABLE: { [K in keyof Omit<SlaveOptions, 'handler' | 'batchHandler' | 'host'>]-?: OptionSpec<SlaveOptions[K]> } = SLAVE_OPTIONS

/** The options of `O` that `specs` fill: each is there, undefined only where its default is. */
type Filled<O, S> = { -readonly [K in keyof S & keyof O]-?: S[K] extends { default: undefined } ? O[K] : NonNullable<O[K]> }

/** Checks every option of `table` that has a value in `options`, in table order. */
function check(table: Record<string, AnySpec>, options: Record<string, unknown>): void {
  for (const [name, spec] of Object.entries(table)) {
    const value = options[name]
    if (value !== undefined) checkOption(spec, value, name)
  }
}

/** The default of every {@link MasterOptions} field (see each field's `@default`). */
export const MASTER_DEFAULTS = defaultsOf<Filled<MasterOptions, typeof MASTER_OPTIONS>>(MASTER_TABLE)

/** The default of every {@link SlaveOptions} field (see each field's `@default`); no `prefetch`: the adaptive window. */
export const SLAVE_DEFAULTS = defaultsOf<Filled<SlaveOptions, typeof SLAVE_OPTIONS>>(SLAVE_TABLE)

function defaultsOf<T>(table: Record<string, AnySpec>): T {
  return Object.fromEntries(Object.entries(table).map(([name, spec]) => [name, spec.default])) as T
}

/** {@link MasterOptions} with every default filled in. */
export type ResolvedMasterOptions = typeof MASTER_DEFAULTS & {
  source: JobSource
  /** `args` as shown and saved: secrets masked (see src/run-args.ts); `args` holds the values, `env:` resolved. */
  shownArgs: Record<string, string>
  /** The secret values masked in `shownArgs`, hidden in log and error lines too. */
  secrets: string[]
  /** The arguments given as `name=env:VAR`, by name: the variable each was read from (saved for `tm-ctl list`). */
  argsFromEnv: Record<string, string>
}
/** {@link SlaveOptions} with every default filled in. */
export type ResolvedSlaveOptions = typeof SLAVE_DEFAULTS & {
  handler: Handler | undefined
  batchHandler: BatchHandler | undefined
  host: string
}

/** Copies `options` without its undefined values, so they do not hide defaults. */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>
}

/**
 * Every field of {@link MasterOptions}: the table's and those every caller gives; and those
 * resolving adds (recomputed), so resolved options resolve again to themselves.
 */
const MASTER_NAMES: readonly string[] = ['source', ...Object.keys(MASTER_TABLE), 'shownArgs', 'secrets', 'argsFromEnv']
/** Every field of {@link SlaveOptions}. */
const SLAVE_NAMES: readonly string[] = ['handler', 'batchHandler', 'host', ...Object.keys(SLAVE_TABLE)]

/** Fills defaults and validates; throws an {@link OptionError} naming the bad option (or the unknown one). */
export function resolveMasterOptions(options: MasterOptions): ResolvedMasterOptions {
  checkKnownOptions(options, MASTER_NAMES, 'Master')
  const o = { ...MASTER_DEFAULTS, ...defined(options) } as ResolvedMasterOptions
  if (typeof o.source?.getJobs !== 'function') throw new OptionError('options.source.getJobs must be a function', 'source')
  check(MASTER_TABLE, o)
  const args = resolveRunArgs(o.args)
  // The state store's password is a secret of the run too: hidden wherever free text is shown.
  const secrets = [...args.secrets]
  if (o.stateStore !== undefined) redactText(o.stateStore, secrets)
  Object.assign(o, { args: args.values, shownArgs: args.shown, secrets, argsFromEnv: args.env })
  if (Object.hasOwn(o.args, SHARD_ARG))
    throw new OptionError(`options.args must not name an argument '${SHARD_ARG}': it is where the shard is saved`, 'args')
  if (o.standby && o.stateStore === undefined)
    throw new OptionError(
      'options.standby needs options.stateStore (--standby needs --state-store postgres://...): a standby takes over a lock held in PostgreSQL',
      'standby',
    )
  if (o.standby && o.reset)
    throw new OptionError("options.standby and options.reset do not go together: a standby resumes the active master's run", 'standby')
  if (o.shard !== undefined) {
    // The shard is part of the run's identity: each shard keeps its own state.
    const suffix = shardSuffix(o.shard)
    if (!o.key.endsWith(suffix)) o.key = `${o.key}${suffix}`
    validateRunKey(o.key)
  }
  return o
}

/** Fills defaults and validates; throws an {@link OptionError} naming the bad option (or the unknown one). */
export function resolveSlaveOptions(options: SlaveOptions): ResolvedSlaveOptions {
  checkKnownOptions(options, SLAVE_NAMES, 'Slave')
  const o = { ...SLAVE_DEFAULTS, ...defined(options) } as ResolvedSlaveOptions
  if (o.batchHandler === undefined) {
    if (typeof o.handler !== 'function') throw new OptionError('options.handler must be a function', 'handler')
  } else if (typeof o.batchHandler !== 'function') throw new OptionError('options.batchHandler must be a function', 'batchHandler')
  else if (o.handler !== undefined)
    throw new OptionError('options.handler and options.batchHandler do not go together: give one', 'batchHandler')
  if (typeof o.host !== 'string' || o.host.length === 0) throw new OptionError('options.host must be a host:port string', 'host')
  check(SLAVE_TABLE, o)
  return o
}

/** Jobs a lane of this slave runs per handler call: `batch` for a batch handler, else 1. */
export function slaveBatch(o: Pick<ResolvedSlaveOptions, 'batchHandler' | 'batch'>): number {
  return o.batchHandler !== undefined ? o.batch : 1
}
