/**
 * `exactlyOnce(fn, { db })`: a batch handler whose writes to a PostgreSQL database happen
 * once per job, whatever is killed when. Taskmaster delivers a job at least once (a job whose
 * writes committed may be run again after a crash, its acknowledgement lost); here each call
 * opens a transaction that first claims the batch's keys in a claims table of the same
 * database, hands `fn` only the jobs it claimed and the transaction's connection, and commits
 * the claims with `fn`'s writes. A job delivered again finds its claim and is done without
 * running. A call that throws rolls back: no claim is left, the job runs again (and a job that
 * fails for good holds none, so `--retry-failed` runs it).
 *
 * Claims are removed as the master says their jobs are durable (`ctx.run.durable`, see
 * compaction.ts), a range in one statement beside the batches; what a master restart left is
 * removed when the run completes, or when its key is started over (`--reset`).
 */
import { createHash } from 'node:crypto'
import { OptionError } from '../errors.js'
import type { BatchContext, BatchFailure, HandlerContext, RunInfo, SetupContext, TeardownContext } from '../options.js'
import { redactText } from '../redact.js'
import { thrownLine, typeName } from '../user-code.js'
import { claimQueries, compactionLock, incarnationNumber, runNumber } from './claims-sql.js'
import { ensureTables } from './claims-tables.js'
import { Compaction, aboveFloor } from './compaction.js'
import type { CompactionRange } from './compaction.js'
import { findDb, isQueryable, pgExport } from './connection.js'
import type { PgQueryable, RunArgs } from './connection.js'
import { UNDEFINED_TABLE, UNIQUE_VIOLATION, codeOf, isPassing } from './pg-errors.js'
import { failedOf } from '../slave/batch-result.js'

/** Who errors and warnings name. */
const WHO = 'exactlyOnce'

/** A connection in a transaction, as `fn` gets it (a pg PoolClient): query with it, never COMMIT or ROLLBACK. */
export interface PgTransaction {
  query: (text: string, values?: unknown[]) => Promise<{ rows: any[]; rowCount?: number | null }>
}

/** A pooled connection, as exactlyOnce uses it. */
interface PooledClient extends PgTransaction {
  processID?: number
  release: (error?: Error | boolean) => void
  on: (event: 'error', listener: (error: Error) => void) => unknown
  removeListener: (event: 'error', listener: (error: Error) => void) => unknown
}

/** What exactlyOnce needs of a pg Pool: a connection of its own per transaction. */
export interface PgPool extends PgQueryable {
  connect: () => Promise<PooledClient>
}

/** A pg Pool, or how to find one in the run's arguments (a connection string, or a Pool). */
export type PgPoolDb = PgPool | ((args: RunArgs) => string | PgPool | undefined | Promise<string | PgPool | undefined>)

/** The third argument of `fn`: the batch context's, for the jobs `fn` is given. */
export interface ExactlyOnceContext {
  /** The attempt of each job `fn` is given. */
  readonly attempts: readonly number[]
  /** The seq of each job `fn` is given. */
  readonly seqs: readonly number[]
  /** Aborted when the call runs past `--job-timeout` (its transaction is then ended: see the docs). */
  readonly signal: AbortSignal
  /** What `options.setup` returned (undefined without one). */
  readonly state: any
  /** The run's `name=value` arguments. */
  readonly args: Readonly<Record<string, string>>
  /** The run, as its master said. */
  readonly run: RunInfo
}

/** The writes of a batch: the jobs claimed, a connection in their transaction, the context. */
export type ExactlyOnceFunction = (jobs: any[], tx: PgTransaction, ctx: ExactlyOnceContext) => unknown

/** Options of {@link exactlyOnce}. */
export interface ExactlyOnceOptions {
  /**
   * The database the writes go to: a pg Pool, or a function of the run's arguments returning
   * one or a connection string (`(args) => args.db`). From a connection string a pool of
   * `--concurrency` + 1 connections is made at setup and ended at teardown.
   */
  db: PgPoolDb
  /** The claims table, created when missing (with `<table>_runs` beside it), optionally schema-qualified. @default 'taskmaster_claims' */
  table?: string
  /**
   * A job's key, unique in the run and the same each time the job is delivered. @default
   * the job's `id`, or the job itself when it is a string, number or bigint
   */
  key?: (job: any) => string | number | bigint
  /** Seconds a call waits for a database that cannot be reached (restarting), trying its transaction again, before it fails. @default 60 */
  reconnect?: number
  /** Runs after exactlyOnce's own setup: what it returns is `ctx.state` of `fn`. @default undefined */
  setup?: (ctx: SetupContext) => unknown
  /** Runs at teardown with what `setup` returned, before the pool is ended. @default undefined */
  teardown?: (state: any, ctx: TeardownContext) => unknown
}

/** What {@link exactlyOnce} gives a handler module to export. */
export interface ExactlyOnce {
  /** The batch handler: `export const { handleBatch, setup, teardown } = exactlyOnce(...)`. */
  handleBatch: (jobs: any[], ctx: BatchContext) => Promise<BatchFailure[] | undefined>
  /** The same, one job per call (`fn` gets a batch of one). */
  handleJob: (job: any, ctx: HandlerContext) => Promise<void>
  /** Opens the pool, makes the claims tables when missing, then runs `options.setup`. */
  setup: (ctx: SetupContext) => Promise<unknown>
  /** Removes the run's claims when it is complete, runs `options.teardown`, ends the pool it made. */
  teardown: (state: unknown, ctx: TeardownContext) => Promise<void>
}

/** What setup made, one per slave process and run: exactlyOnce's `ctx.state`. */
interface OnceState {
  readonly pool: PgPool
  /** The pool was made from a connection string: teardown ends it. */
  readonly own: boolean
  readonly compaction: Compaction
  /** Run identities recorded in the runs table by this process. */
  readonly registered: Set<string>
  /** What options.setup returned. */
  readonly user: unknown
}

/** Keys longer than this are claimed by their SHA-256 (an index entry holds at most about 2,700 bytes). */
const LONG_KEY = 256
/** How a hashed key's claim starts: no key is claimed as its own text with it. */
const HASHED = 'sha256:'
/** Delays between tries of a transaction that failed for a passing reason: doubling, capped. */
const FIRST_DELAY_MS = 100
const MAX_DELAY_MS = 2000

/** The states setup made: a `ctx.state` not among them was made by another setup. */
const states = new WeakSet<object>()

/** Said once per process when the claims table was found missing under a live run and made again. */
let toldRemade = false

function check(condition: boolean, message: string, option: string): void {
  if (!condition) throw new OptionError(`${WHO}: ${message}`, option)
}

function checkOptions(fn: unknown, options: ExactlyOnceOptions | undefined): asserts options is ExactlyOnceOptions {
  check(typeof fn === 'function', `its first argument must be a function (jobs, tx, ctx) => ..., got ${typeName(fn)}`, 'fn')
  check(
    typeof options === 'object' && options !== null,
    `its second argument must be the options ({ db: (args) => args.db }), got ${typeName(options)}`,
    'options',
  )
  const o = options!
  check(
    typeof o.db === 'function' || (isQueryable(o.db) && typeof (o.db as Partial<PgPool>).connect === 'function'),
    `db must be a pg Pool, or a function of the run's arguments returning one or a connection string (db: (args) => args.db), got ${typeName(o.db)}`,
    'db',
  )
  check(
    o.table === undefined || (typeof o.table === 'string' && /^[^.]+(\.[^.]+)?$/.test(o.table)),
    `table must be a table name (or schema.table), got ${typeName(o.table)}`,
    'table',
  )
  check(o.key === undefined || typeof o.key === 'function', `key must be a function job => key, got ${typeName(o.key)}`, 'key')
  check(
    o.reconnect === undefined || (typeof o.reconnect === 'number' && o.reconnect >= 0 && Number.isFinite(o.reconnect)),
    `reconnect must be a number of seconds >= 0, got ${String(o.reconnect)}`,
    'reconnect',
  )
  for (const hook of ['setup', 'teardown'] as const)
    check(o[hook] === undefined || typeof o[hook] === 'function', `${hook} must be a function, got ${typeName(o[hook])}`, hook)
}

/**
 * A job's key as claimed: its text, or `sha256:` and the SHA-256 of a long one. A short key
 * that itself starts with `sha256:` is hashed too: claimed as it is, it could be the claim of
 * a long key (a row keyed by the hash text of another's), and one of the two would never run.
 */
function claimKey(key: unknown, index: number): string {
  let text: string
  if (typeof key === 'string') text = key
  else if (typeof key === 'bigint' || (typeof key === 'number' && Number.isFinite(key))) text = String(key)
  else
    throw new OptionError(
      `${WHO}: job ${index} of the batch has no key (${key === undefined ? 'no id' : typeName(key)}); give key: (job) => a string, number or bigint unique in the run`,
      'key',
    )
  return text.length > LONG_KEY || text.startsWith(HASHED) ? `${HASHED}${createHash('sha256').update(text).digest('hex')}` : text
}

/** The default key: the job's id, or the job itself. */
function defaultKey(job: unknown): unknown {
  return typeof job === 'object' && job !== null ? (job as { id?: unknown }).id : job
}

/** Waits `ms`, or less if `signal` is aborted. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** What `promise` gives, unless `signal` is aborted first: then `onAbort` runs and it rejects with the reason. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal, onAbort: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const abort = (): void => {
      onAbort()
      reject(signal.reason as Error)
    }
    if (signal.aborted) return abort()
    signal.addEventListener('abort', abort, { once: true })
    promise.finally(() => signal.removeEventListener('abort', abort)).then(resolve, reject)
  })
}

/** What `fn` is called in messages about what it returned. */
const FUNCTION = "exactlyOnce's function"

/**
 * `fn` returned something that cannot say which jobs failed (a driver's result, a string):
 * every job of the call fails with `error` (what to return), rolled back, not split (the
 * same call would return the same). `claimed`: the jobs `fn` was given (undefined: all).
 */
class Unreadable extends Error {
  constructor(
    readonly error: TypeError,
    readonly claimed: number[] | undefined,
  ) {
    super(error.message)
  }
}

/**
 * What `fn` returned, read as a batch handler's return value is (failedOf): nothing, every
 * job done; failures (an array of `{ index, error }` or `{ job, error }`): the transaction
 * cannot commit some jobs and not others, so the call fails whole (the slave splits it down
 * to the failing job, which then fails with its own error); an entry that names no job
 * throws what shape is expected; anything else is {@link Unreadable}.
 */
function refuseFailures(result: unknown, jobs: readonly unknown[], claimed: number[] | undefined): void {
  const failed = failedOf(result, jobs, FUNCTION)
  if (failed === undefined || failed.size === 0) return
  if (!Array.isArray(result)) throw new Unreadable(failed.get(0) as TypeError, claimed)
  const error = failed.values().next().value
  if (jobs.length === 1 && error instanceof Error) throw error
  throw new Error(
    `${WHO}: the function returned ${failed.size} failed jobs of ${jobs.length} (the first: ${thrownLine(error)}); the transaction is rolled back and the batch split`,
  )
}

/**
 * Every claim transaction is READ COMMITTED, whatever the database's default: the floor is
 * read in a statement of its own after the claims (see aboveFloor in compaction.ts), and only under
 * READ COMMITTED does that statement see what committed while the claims waited.
 */
const BEGIN = 'BEGIN ISOLATION LEVEL READ COMMITTED'

/**
 * Makes a batch handler's writes to PostgreSQL exactly once: see the top of this file and
 * docs/reliability.md. Export what it gives from the handler module:
 *
 * ```ts
 * import { exactlyOnce } from 'taskmaster-run/pg'
 * export const { handleBatch, setup, teardown } = exactlyOnce(
 *   async (rows, tx) => { await tx.query('UPDATE t SET n = n + 1 WHERE id = ANY($1)', [rows.map((r) => r.id)]) },
 *   { db: (args) => args.db },
 * )
 * ```
 */
export function exactlyOnce(fn: ExactlyOnceFunction, options: ExactlyOnceOptions): ExactlyOnce {
  checkOptions(fn, options)
  const sql = claimQueries(options.table ?? 'taskmaster_claims')
  const keyOf = options.key ?? defaultKey
  const reconnectMs = (options.reconnect ?? 60) * 1000

  const stateOf = (state: unknown): OnceState => {
    if (typeof state !== 'object' || state === null || !states.has(state))
      throw new OptionError(
        `${WHO}: the handler module must export the setup and teardown exactlyOnce made: export const { handleBatch, setup, teardown } = exactlyOnce(...)`,
        'setup',
      )
    return state as OnceState
  }

  /** Ends the transaction of an abandoned call: its backend is terminated (a hung statement holds its claims' locks). */
  const terminate = (state: OnceState, client: PooledClient): void => {
    if (client.processID === undefined) return
    state.pool.query('SELECT pg_terminate_backend($1)', [client.processID]).catch(() => undefined)
  }

  /**
   * One transaction: claims `keys` (of jobs of master incarnation `inc`), runs `fn` on the
   * jobs it claimed, commits. Returns the indexes of the jobs claimed (undefined: all of them).
   */
  const transaction = async (
    state: OnceState,
    claim: [run: string, keys: string[], inc: string, seqs: readonly number[]],
    batch: { jobs: unknown[]; seqs: readonly number[]; attempts: readonly number[] },
    ctx: BatchContext | HandlerContext,
  ): Promise<number[] | undefined> => {
    const keys = claim[1]
    const client = await state.pool.connect()
    // A connection error between statements is emitted, not thrown: never uncaught.
    const ignore = (): void => {}
    client.on('error', ignore)
    let broken: Error | undefined
    let aborted = false
    try {
      await client.query(BEGIN)
      let claimed: number[] | undefined
      try {
        await client.query(sql.claimAll, claim)
      } catch (error) {
        if (codeOf(error) !== UNIQUE_VIOLATION) throw error
        // Some job was claimed before (delivered again): claim the others, waiting for a
        // transaction claiming one of them now.
        await client.query('ROLLBACK')
        await client.query(BEGIN)
        const rows = (await client.query(sql.claimSome, claim)).rows as { claimed: string[] | null }[]
        const free = new Set<string>(rows[0]?.claimed ?? [])
        claimed = []
        for (let i = 0; i < keys.length; i++) if (free.delete(keys[i])) claimed.push(i)
      }
      const floors = (await client.query(sql.floor, [claim[0], claim[2]])).rows as { floor: string | null }[]
      claimed = aboveFloor(claimed, batch.seqs, floors[0]?.floor)
      const n = claimed?.length ?? keys.length
      const signal = ctx.signal
      if (n > 0) {
        const pick = <T>(all: readonly T[]): T[] => (claimed === undefined ? (all as T[]) : claimed.map((i) => all[i]))
        const jobs = pick(batch.jobs)
        const context: ExactlyOnceContext = {
          attempts: pick(batch.attempts),
          seqs: pick(batch.seqs),
          signal,
          state: state.user,
          args: ctx.args,
          run: ctx.run,
        }
        const call = new Promise((resolve) => resolve(fn(jobs, client, context)))
        const result = await unlessAborted(call, signal, () => {
          aborted = true
          call.catch(() => undefined)
          terminate(state, client)
        })
        refuseFailures(result, jobs, claimed)
      }
      if (signal.aborted) throw signal.reason
      await client.query('COMMIT')
      return claimed
    } catch (error) {
      broken = error as Error
      // An abandoned call's connection may still run fn's statement: it is terminated, not rolled back.
      if (!aborted)
        try {
          await client.query('ROLLBACK')
          broken = undefined
        } catch {
          // The connection is gone: it is dropped below.
        }
      throw error
    } finally {
      client.removeListener('error', ignore)
      client.release(broken ?? (aborted ? true : undefined))
    }
  }

  /**
   * Deletes the claims the master says are durable, beside the batches (on a connection of
   * the pool's own), one compaction at a time per process; a failure waits for the next.
   */
  const compact = (state: OnceState, run: string, range: CompactionRange): void => {
    state.pool.query(sql.compact, [run, incarnationNumber(range.incarnation), range.below, compactionLock(run)]).then(
      () => state.compaction.ended(range, true),
      () => state.compaction.ended(range, false),
    )
  }

  /** Claims and runs `batch`, trying again on passing failures (see pg-errors.ts) for up to `reconnect` seconds. */
  const claimAndRun = async (
    state: OnceState,
    batch: { jobs: unknown[]; seqs: readonly number[]; attempts: readonly number[] },
    ctx: BatchContext | HandlerContext,
  ): Promise<BatchFailure[] | undefined> => {
    const info = ctx.run
    const id = info.id
    if (id === undefined || info.key === undefined)
      throw new OptionError(
        `${WHO}: the master does not say the run's identity: it is of an earlier version of taskmaster-run than this slave`,
        'db',
      )
    const keys = batch.jobs.map((job, i) => claimKey(keyOf(job), i))
    const run = runNumber(id)
    // The jobs came from this incarnation: their seqs are its numbering.
    const claim: [string, string[], string, readonly number[]] = [run, keys, incarnationNumber(info.incarnation), batch.seqs]
    state.compaction.runIs(id)
    const range = state.compaction.next(info.incarnation, info.durable)
    if (range !== undefined) compact(state, run, range)
    let since: number | undefined
    let remade = false
    for (let delay = FIRST_DELAY_MS; ; delay = Math.min(MAX_DELAY_MS, delay * 2)) {
      if (ctx.signal.aborted) throw ctx.signal.reason
      try {
        if (!state.registered.has(id)) {
          // A run started over (--reset) has a new identity: its first claim clears what the earlier one left.
          await state.pool.query(sql.register, [run, info.key])
          state.registered.add(id)
        }
        await transaction(state, claim, batch, ctx)
        return undefined
      } catch (error) {
        if (error instanceof Unreadable)
          return (error.claimed ?? batch.jobs.map((_, i) => i)).map((index) => ({ index, error: error.error }))
        if (codeOf(error) === UNDEFINED_TABLE && !remade) {
          // Dropped under the run: made again, and said, since jobs finished before lost their claims.
          remade = true
          if (!toldRemade)
            console.warn(
              `${WHO}: the claims table ${sql.tables[0]} was missing while the run ran; it is made again (jobs finished before the loss and delivered again after a crash may run twice)`,
            )
          toldRemade = true
          await ensureTables(state.pool, sql)
          state.registered.delete(id)
          continue
        }
        if (!isPassing(error) || ctx.signal.aborted) throw error
        since ??= Date.now()
        if (Date.now() - since >= reconnectMs) throw error
        await pause(delay, ctx.signal)
      }
    }
  }

  return {
    handleBatch: async (jobs, ctx) => claimAndRun(stateOf(ctx.state), { jobs, seqs: ctx.seqs, attempts: ctx.attempts }, ctx),
    handleJob: async (job, ctx) => {
      const failed = await claimAndRun(stateOf(ctx.state), { jobs: [job], seqs: [ctx.seq], attempts: [ctx.attempt] }, ctx)
      if (failed !== undefined) throw failed[0].error
    },

    async setup(ctx: SetupContext): Promise<unknown> {
      const found = await findDb(options.db, ctx.args, WHO)
      let pool: PgPool
      const own = typeof found === 'string'
      if (own) {
        const Pool = await pgExport('Pool', WHO)
        const made = new Pool({ connectionString: found, max: ctx.concurrency + 1, allowExitOnIdle: true })
        // An idle connection the server drops (a restart) is an error of the next use, not of the process.
        made.on('error', () => {})
        pool = made as unknown as PgPool
      } else if (typeof (found as Partial<PgPool>).connect !== 'function') {
        throw new OptionError(
          `${WHO}: db(args) returned a pg Client; give a Pool or a connection string (each batch needs a connection of its own for its transaction)`,
          'db',
        )
      } else pool = found as PgPool
      const where = own ? ` ${redactText(found)}` : ''
      try {
        const deadline = Date.now() + reconnectMs
        for (let delay = FIRST_DELAY_MS; ; delay = Math.min(MAX_DELAY_MS, delay * 2)) {
          try {
            await ensureTables(pool, sql)
            break
          } catch (error) {
            // A database restarting is waited for, as a batch waits for it.
            if (!isPassing(error) || Date.now() >= deadline) throw error
            await new Promise((resolve) => setTimeout(resolve, delay))
          }
        }
      } catch (error) {
        if (own) await (pool as unknown as { end: () => Promise<void> }).end().catch(() => undefined)
        if (error instanceof OptionError) throw error
        throw new OptionError(redactText(`${WHO}: cannot use the database${where}: ${thrownLine(error)}`), 'db')
      }
      const user = options.setup === undefined ? undefined : await options.setup(ctx)
      const state: OnceState = { pool, own, compaction: new Compaction(), registered: new Set(), user }
      states.add(state)
      return state
    },

    async teardown(state: unknown, ctx: TeardownContext): Promise<void> {
      const once = stateOf(state)
      try {
        // Complete: no master runs a job of it again; the claims a crash left go too.
        const id = ctx.run.id
        if (ctx.complete && id !== undefined) await once.pool.query(sql.forget, [runNumber(id)])
      } finally {
        try {
          if (options.teardown !== undefined) await options.teardown(once.user, ctx)
        } finally {
          if (once.own) await (once.pool as unknown as { end: () => Promise<void> }).end()
        }
      }
    },
  }
}
