import { CheckpointError, LeaseError, LockError, OptionError, StateError, StateFileError, TaskmasterError } from '../../../errors.js'
import { seqsOfRanges } from '../../../protocol/ranges.js'
import { redactText } from '../../../redact.js'
import type { Checkpoint } from '../checkpoint.js'
import { CHECKPOINT_FORMAT, checkpointProblem, freshCheckpoint } from '../checkpoint.js'
import type { FailedJob } from '../failed-log.js'
import { FailedLog } from '../failed-log.js'
import type { JobKey } from '../../../options.js'
import { parse, stringify } from '../json.js'
import type { FailedJobsLog, JournalEntries, JournalRecord, ResumePoint, StateStore } from '../state-store.js'
import { failuresRunOf, foldResume, refuseOtherArgs, retryKey } from '../store-common.js'
import { refuseOtherShardCount, shardCountOf } from '../shard-count.js'
import type { PgClient } from './client.js'
import { isTransient } from './client.js'
import { HELD, LEASE_SCHEMA, LEASE_TABLE, fenced, holderName, tryTakeLease } from './lease.js'
import { ensureSchema } from './schema.js'

export type { PgClient } from './client.js'

/** The tables of the state, in the schema the connection's search_path names. */
export const PG_TABLES = { checkpoint: 'taskmaster_checkpoint', journal: 'taskmaster_journal', failed: 'taskmaster_failed' } as const

/** Created on first use: one row per run, one per journal record, one per failed job. */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${PG_TABLES.checkpoint} (run text PRIMARY KEY, checkpoint text NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${PG_TABLES.journal} (id bigserial PRIMARY KEY, run text NOT NULL, record text NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS ${PG_TABLES.journal}_run ON ${PG_TABLES.journal} (run, id)`,
  `CREATE TABLE IF NOT EXISTS ${PG_TABLES.failed} (id bigserial PRIMARY KEY, run text NOT NULL, entry text NOT NULL, at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX IF NOT EXISTS ${PG_TABLES.failed}_run ON ${PG_TABLES.failed} (run, id)`,
]

/** How the failed jobs of run `run` in the state store `where` are named in messages. */
export const failedTable = (run: string, where: string): string => `table ${PG_TABLES.failed} (run '${run}') of ${where}`

/** The run name the failed jobs of run `key` are moved to (by --reset, or a retry pass): `<key>.failed.<time>`. */
export const rotatedRun = (key: string): string => `${key}.failed.${new Date().toISOString()}`

/**
 * One statement (so one round trip, atomic) writes everything queued, if the lease is
 * still this master's (see {@link fenced}: $1 run, $2 fencing number, $3 lease ms; it
 * renews the lease): the failed jobs, then the checkpoint if one is due (deleting the
 * journal records it supersedes: the statement's snapshot does not see the rows its own
 * INSERT adds), then the journal records queued after that checkpoint. $4 failed
 * entries, $5 checkpoint or null, $6 journal records, $7 the run whose failed jobs they
 * are (a retry pass's are its run's). With nothing queued it only renews the lease.
 */
export const PG_FLUSH = fenced([
  `f AS (INSERT INTO ${PG_TABLES.failed} (run, entry) SELECT $7::text, e FROM unnest($4::text[]) WITH ORDINALITY AS t(e, i) WHERE ${HELD} ORDER BY i)`,
  `c AS (INSERT INTO ${PG_TABLES.checkpoint} (run, checkpoint) SELECT $1, $5::text WHERE $5::text IS NOT NULL AND ${HELD} ON CONFLICT (run) DO UPDATE SET checkpoint = EXCLUDED.checkpoint)`,
  `d AS (DELETE FROM ${PG_TABLES.journal} WHERE run = $1 AND $5::text IS NOT NULL AND ${HELD})`,
  `j AS (INSERT INTO ${PG_TABLES.journal} (run, record) SELECT $1, r FROM unnest($6::text[]) WITH ORDINALITY AS t(r, i) WHERE ${HELD} ORDER BY i)`,
])

/** Where {@link PG_FLUSH} takes its journal records. */
export const FLUSH_RECORDS = 5

/** A fresh run's checkpoint, written by begin(): $4 the checkpoint. */
const BEGIN = fenced([
  `c AS (INSERT INTO ${PG_TABLES.checkpoint} (run, checkpoint) SELECT $1, $4::text WHERE ${HELD} ON CONFLICT (run) DO UPDATE SET checkpoint = EXCLUDED.checkpoint)`,
])
/** A fresh run that never ran a job leaves nothing. */
const DISCARD = fenced([`c AS (DELETE FROM ${PG_TABLES.checkpoint} WHERE run = $1 AND ${HELD})`])
/** A complete run keeps its checkpoint and no journal. */
const FORGET_JOURNAL = fenced([`d AS (DELETE FROM ${PG_TABLES.journal} WHERE run = $1 AND ${HELD})`])

/** How often a statement rolled back by a passing condition (a deadlock) is sent again before the run stops. */
const TRANSIENT_TRIES = 10

/** The URL without its secrets (password, secret query parameters: see src/redact.ts), for messages. */
export function showUrl(url: string): string {
  return URL.canParse(url) ? redactText(url) : 'postgres://(unparsable URL)'
}

/** How a PostgreSQL state store is opened. */
export interface PgStoreOptions {
  /** Forget the saved state (the failed jobs are kept, under a rotated run name). @default false */
  reset?: boolean
  /** Hands in a client instead of loading pg (tests, or a caller's own driver settings). */
  client?: PgClient
  /** Wait for the lease (asking every `pollMs`) instead of refusing when another master holds it. @default false */
  standby?: boolean
  /**
   * How long the lease lasts unless renewed (it is renewed every eighth of it, and by every
   * write): a standby takes the run over once this passes without a renewal. @default 20000
   */
  leaseMs?: number
  /** @default 250 */
  pollMs?: number
  /** Aborted: a standby stops waiting (the master was stopped). */
  signal?: AbortSignal | undefined
}

/** Loads pg's Client (an optional peer dependency), or says how to install it. */
export async function loadClient(url: string): Promise<PgClient> {
  const name = 'pg'
  let pg: {
    Client?: new (config: { connectionString: string }) => PgClient
    default?: { Client: new (config: { connectionString: string }) => PgClient }
  }
  try {
    pg = (await import(name)) as typeof pg
  } catch {
    throw new OptionError(
      '--state-store postgres://... needs the pg package (an optional peer dependency of taskmaster-run): npm install pg',
      'stateStore',
    )
  }
  const Client = pg.Client ?? pg.default?.Client
  if (Client === undefined) throw new OptionError('--state-store: the installed pg package has no Client export', 'stateStore')
  return new Client({ connectionString: url })
}

/** The first error of a store's connection or writes, and who is told of it. */
interface Failure {
  error?: Error
  listener?: (error: Error) => void
}

/** Keeps the first error and tells the listener (once). */
function fail(failure: Failure, error: Error): void {
  if (failure.error !== undefined) return
  failure.error = error
  failure.listener?.(error)
}

/** Connects `client` to the state store `where`; a failure is one line. */
export async function connect(client: PgClient, where: string): Promise<void> {
  try {
    await client.connect()
  } catch (error) {
    throw new StateFileError(`Cannot connect to the state store ${where}: ${(error as Error).message}`, where)
  }
}

/**
 * Opens the state of run `key` in the PostgreSQL at `url`: connects, creates the tables on
 * first use, takes the run's lease (a row with a fencing number and a deadline, plus an
 * advisory lock of this session that frees itself when the session dies, unlike a file
 * lock on a lost machine) and reads where the last incarnation stopped.
 */
export async function openPgStore(url: string, key: string, options: PgStoreOptions = {}): Promise<PgStateStore> {
  const where = showUrl(url)
  const client = options.client ?? (await loadClient(url))
  const failure: Failure = {}
  // A connection that breaks emits 'error': kept, thrown by the store's next call and told to its watcher.
  client.on('error', (error) => fail(failure, error))
  await connect(client, where)
  try {
    await ensureSchema(client, [...SCHEMA, LEASE_SCHEMA])
    const leaseMs = options.leaseMs ?? 20_000
    const holder = holderName()
    let fence: number | undefined
    // A standby asks again and again (rather than blocking in a lock) so that a stop ends the wait.
    while ((fence = await tryTakeLease(client, key, holder, leaseMs)) === undefined) {
      if (!options.standby)
        throw new LockError(
          `Run '${key}' is in use by another master (it holds the run's lease in the state store ${where}); stop it first, or start this one with --standby`,
          where,
        )
      if (failure.error !== undefined) throw failure.error
      await pause(options.pollMs ?? 250, options.signal)
      if (options.signal?.aborted)
        throw new StateError(`Stopped while standing by for run '${key}' (the active master still holds its lease in ${where})`)
    }
    const lease: Lease = { fence, ms: leaseMs }
    if (options.reset && !(await reset(client, key, fence))) throw lostLease(key, where, lease)
    const row = (await client.query(`SELECT checkpoint FROM ${PG_TABLES.checkpoint} WHERE run = $1`, [key])).rows[0]
    const previous = row === undefined ? undefined : checkpointOf(String(row.checkpoint), key, where)
    const records = (await client.query(`SELECT record FROM ${PG_TABLES.journal} WHERE run = $1 ORDER BY id`, [key])).rows.map((r) =>
      String(r.record),
    )
    if (previous === undefined && records.length > 0) {
      throw new CheckpointError(
        `Run '${key}' has journal records but no checkpoint in the state store ${where}: its arguments are unknown, so it cannot be resumed safely. Start it over with --reset`,
        where,
      )
    }
    return new PgStateStore(client, key, where, previous, entriesOf(records, key, where), failure, lease)
  } catch (error) {
    await client.end().catch(() => undefined)
    if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('TM_ERR')) throw error
    throw new StateFileError(`Cannot open the state of run '${key}' in the state store ${where}: ${(error as Error).message}`, where)
  }
}

/** Waits `ms`, or less if `signal` is aborted. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Forgets the run's checkpoint and journal (and its retry pass's); its failed jobs are kept
 * under a rotated name. Fenced like every write: false (nothing done) if the lease is gone.
 */
async function reset(client: PgClient, key: string, fence: number): Promise<boolean> {
  await client.query('BEGIN')
  try {
    if ((await client.query(`SELECT FROM ${LEASE_TABLE} WHERE run = $1 AND fence = $2 FOR UPDATE`, [key, fence])).rows.length === 0) {
      await client.query('ROLLBACK')
      return false
    }
    await client.query(`DELETE FROM ${PG_TABLES.checkpoint} WHERE run = ANY($1::text[])`, [[key, retryKey(key)]])
    await client.query(`DELETE FROM ${PG_TABLES.journal} WHERE run = ANY($1::text[])`, [[key, retryKey(key)]])
    await client.query(`UPDATE ${PG_TABLES.failed} SET run = $2 WHERE run = $1`, [key, rotatedRun(key)])
    await client.query('COMMIT')
    return true
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}

/** The run's lease as its holder knows it: the fencing number and the lease's length. */
interface Lease {
  fence: number
  ms: number
}

/** What a master that lost its lease stops with. */
function lostLease(key: string, where: string, lease: Lease): LeaseError {
  return new LeaseError(
    `Run '${key}' lost its lease to another master in the state store ${where} (this master did not renew it for ${lease.ms / 1000} s: it was paused, or cut off from the database); it stops without writing anything more`,
    where,
  )
}

/** The checkpoint of run `key` as stored (`text`), checked: another format is refused, never misread. */
export function checkpointOf(text: string, key: string, where: string): Checkpoint {
  let value: Partial<Checkpoint> | undefined
  try {
    value = parse(text) as Partial<Checkpoint>
  } catch {
    value = undefined
  }
  if (typeof value !== 'object' || value === null || value.format !== CHECKPOINT_FORMAT || value.key !== key) {
    throw new CheckpointError(
      `The checkpoint of run '${key}' in the state store ${where} is not one this Taskmaster reads (format ${CHECKPOINT_FORMAT}); finish the run with the version that started it, or use --reset`,
      where,
    )
  }
  // Every field checked, as the file store does: a damaged row is refused, never misread.
  const problem = checkpointProblem(value)
  if (problem !== undefined)
    throw new CheckpointError(
      `The checkpoint of run '${key}' in the state store ${where} is damaged ${problem}; use --reset to start over`,
      where,
    )
  return value as Checkpoint
}

/** A journal record as stored: `[position, last, done, failed, ranges, keys]`, JSON with bigints kept. */
const recordText = (r: JournalRecord): string => stringify([r.position, r.last, r.done, r.failed, r.ranges, r.keys])

/** What the journal records say together, as the file journal reads them. */
export function entriesOf(records: readonly string[], key: string, where: string): JournalEntries {
  const entries: JournalEntries = { position: 0, last: null, counts: undefined, seqs: [], keys: [] }
  for (const text of records) {
    const [position, last, done, failed, ranges, keys] = parse(text) as [number, JournalRecord['last'], number, number, number[], JobKey[]]
    if (!Number.isSafeInteger(position) || !Array.isArray(ranges) || !Array.isArray(keys))
      throw new CheckpointError(`Run '${key}' has a damaged journal record in the state store ${where}; start over with --reset`, where)
    if (position >= entries.position) {
      entries.position = position
      entries.last = last
    }
    entries.counts =
      entries.counts === undefined
        ? { done, failed }
        : { done: Math.max(entries.counts.done, done), failed: Math.max(entries.counts.failed, failed) }
    for (const seq of seqsOfRanges(ranges)) entries.seqs.push(seq)
    for (const k of keys) entries.keys.push(k)
  }
  return entries
}

/**
 * The state of one run in PostgreSQL: the checkpoint, the journal and the failed jobs in
 * tables, the lock a lease with a fencing number. Every write carries the number and
 * renews the lease in the same statement, and writes nothing once another master took the
 * lease (this one then stops: {@link watch}); a timer renews it while nothing is written.
 * A write rolled back by a passing condition (a deadlock) is sent again. Writes are asynchronous and ordered:
 * what {@link journal}, {@link save} and the failed-jobs log queue goes out in one
 * statement, with at most one in flight; what is queued meanwhile goes in the next (so
 * the batches grow with the load). A checkpoint supersedes the journal records queued
 * before it (it holds what they say); the previous checkpoint stays until the new one
 * commits. A kill -9 loses only what was queued or in flight: the jobs acked during the
 * last one or two round trips, which run again.
 */
export class PgStateStore implements StateStore {
  readonly key: string
  readonly failedLogPath: string
  /** The state store, for messages (the URL without its secrets). */
  readonly where: string
  /** The run whose failed jobs this run's are (a retry pass's are its run's: see failuresRunOf). */
  readonly #failuresRun: string
  readonly previous: Checkpoint | undefined
  readonly warnings: readonly string[] = []
  readonly #client: PgClient
  readonly #entries: JournalEntries
  readonly #failure: Failure
  readonly #lease: Lease
  readonly #renewal: NodeJS.Timeout
  /** The renewal timer asked for a write (one with nothing queued only renews the lease). */
  #renew = false
  #fresh: Checkpoint | undefined
  #failed: string[] = []
  #records: string[] = []
  #checkpoint: string | null = null
  /** The furthest position queued (records, checkpoint), and the furthest committed: see {@link durable}. */
  #queuedPosition = 0
  #durable: number
  #inFlight: Promise<void> | undefined
  #closed = false

  constructor(
    client: PgClient,
    key: string,
    where: string,
    previous: Checkpoint | undefined,
    entries: JournalEntries,
    failure: Failure,
    lease: Lease,
  ) {
    this.#client = client
    this.#lease = lease
    // Renewed every eighth of its length: a write held up for a while (a busy server) does not cost the lease.
    this.#renewal = setInterval(() => {
      this.#renew = true
      this.#kick()
    }, lease.ms / 8).unref()
    this.key = key
    this.where = where
    this.previous = previous
    this.#entries = entries
    // What the rows say is committed.
    this.#durable = Math.max(previous?.position ?? 0, entries.position)
    this.#failure = failure
    this.#failuresRun = failuresRunOf(key, previous)
    this.failedLogPath = failedTable(this.#failuresRun, where)
  }

  /**
   * Refuses other arguments than the saved run's; a fresh run's identity is committed before
   * any job goes out. Then refuses a shard count other than the one the key's saved runs have.
   */
  async begin(args: Record<string, string>, env?: Record<string, string>): Promise<void> {
    refuseOtherArgs(this.key, this.previous?.args, args, this.where)
    if (this.previous === undefined) await this.#beginFresh(args, env)
    // Looked for once this run's own checkpoint is committed (see refuseOtherShardCount).
    const own = shardCountOf(this.key, args)
    refuseOtherShardCount(own, await this.#savedRuns(own.base), `the state store ${this.where}`)
  }

  /** The runs whose key starts with `prefix` and that have a checkpoint. */
  async #savedRuns(prefix: string): Promise<string[]> {
    this.#check()
    try {
      const saved = await this.#client.query(`SELECT run FROM ${PG_TABLES.checkpoint} WHERE left(run, length($1)) = $1`, [prefix])
      return saved.rows.map((row) => String(row.run))
    } catch (error) {
      throw this.#error(error as Error)
    }
  }

  async #beginFresh(args: Record<string, string>, env: Record<string, string> | undefined): Promise<void> {
    const fresh = freshCheckpoint(this.key, args, env)
    await this.#query(BEGIN, [stringify(fresh)])
    this.#fresh = fresh
  }

  async discardFresh(): Promise<void> {
    if (this.#fresh === undefined) return
    this.#fresh = undefined
    await this.#query(DISCARD, [])
  }

  resumePoint(): ResumePoint {
    return foldResume(this.previous ?? this.#fresh, this.#entries)
  }

  journal(record: JournalRecord): void {
    this.#check()
    this.#records.push(recordText(record))
    this.#queuedPosition = Math.max(this.#queuedPosition, record.position)
    this.#kick()
  }

  save(checkpoint: Checkpoint): string | undefined {
    this.#check()
    this.#checkpoint = stringify(checkpoint)
    this.#queuedPosition = Math.max(this.#queuedPosition, checkpoint.position)
    // The checkpoint holds every completion the records queued before it hold.
    this.#records.length = 0
    this.#fresh = undefined
    this.#kick()
    return undefined
  }

  openFailedLog(path: string | undefined): FailedJobsLog {
    if (path !== undefined) return new FailedLog(path)
    return {
      path: this.failedLogPath,
      // Queued before the journal record that counts these jobs finished, and written in
      // the same statement: a job is in the table or it runs again.
      append: (entries: readonly FailedJob[]) => {
        this.#check()
        for (const entry of entries) this.#failed.push(stringify(entry))
        this.#kick()
        return undefined
      },
      close: () => undefined,
    }
  }

  /** The furthest position of a checkpoint or journal record committed. */
  durable(): number {
    return this.#durable
  }

  /** Waits for the writes queued so far (and those queued meanwhile); rejects with the error of a failed one. */
  async written(): Promise<void> {
    while (this.#inFlight !== undefined) await this.#inFlight
    this.#check()
  }

  /** Tells `listener` (once) of an error that stops the run: a lost lease, a broken connection, a write that failed. */
  watch(listener: (error: Error) => void): void {
    this.#failure.listener = (error) => listener(this.#error(error))
    // An error before the run watched (the lease lost while total() ran) is told too.
    const early = this.#failure.error
    if (early !== undefined) queueMicrotask(() => listener(this.#error(early)))
  }

  /** Writes what is queued, removes the journal once the run is complete, and ends the session (which frees the lease's lock). */
  async close(complete = false): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#renewal)
    try {
      while (this.#inFlight !== undefined) await this.#inFlight
      if (this.#failure.error === undefined && this.#pending()) await this.#start()
      if (this.#failure.error !== undefined) throw this.#error(this.#failure.error)
      if (complete) await this.#query(FORGET_JOURNAL, [])
    } finally {
      await this.#client.end().catch(() => undefined)
    }
  }

  #pending(): boolean {
    return this.#failed.length > 0 || this.#records.length > 0 || this.#checkpoint !== null
  }

  /** Throws the error of a failed write or of the lost connection: the run stops, the lock may be gone. */
  #check(): void {
    if (this.#failure.error !== undefined) throw this.#error(this.#failure.error)
  }

  #error(cause: Error): TaskmasterError {
    if (cause instanceof TaskmasterError) return cause
    return new StateFileError(`Cannot write the state of run '${this.key}' to the state store ${this.where}: ${cause.message}`, this.where)
  }

  #kick(): void {
    if (this.#inFlight === undefined && !this.#closed) void this.#start()
  }

  /**
   * Starts writing the queue; {@link #inFlight} until it ends. Cleared after the assignment
   * (a write with nothing to do ends without waiting: cleared inside it, the finished write
   * would stay in flight, and close() await it forever).
   */
  #start(): Promise<void> {
    const writing: Promise<void> = this.#write().finally(() => {
      if (this.#inFlight === writing) this.#inFlight = undefined
    })
    this.#inFlight = writing
    return writing
  }

  /** Writes the queue (and renews the lease), one statement at a time, until it is empty (or a write fails). */
  async #write(): Promise<void> {
    try {
      while ((this.#pending() || this.#renew) && this.#failure.error === undefined) {
        const failed = this.#failed
        const records = this.#records
        const checkpoint = this.#checkpoint
        const position = this.#queuedPosition
        this.#failed = []
        this.#records = []
        this.#checkpoint = null
        this.#renew = false
        await this.#fenced(PG_FLUSH, [failed, checkpoint, records, this.#failuresRun])
        this.#durable = Math.max(this.#durable, position)
      }
    } catch (error) {
      fail(this.#failure, error as Error)
    }
  }

  /** The rows `text` (a plain read, no lease needed) selects with `values`. Throws like a write. */
  async rows(text: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    this.#check()
    try {
      return (await this.#client.query(text, values)).rows
    } catch (error) {
      throw this.#error(error as Error)
    }
  }

  /** Runs a {@link fenced} statement now (not queued): `values` from `$4`. Throws the lost lease if it wrote nothing. */
  write(text: string, values: unknown[]): Promise<void> {
    return this.#query(text, values)
  }

  async #query(text: string, values: unknown[]): Promise<void> {
    this.#check()
    try {
      await this.#fenced(text, values)
    } catch (error) {
      throw this.#error(error as Error)
    }
  }

  /**
   * Runs a {@link fenced} statement with `values` after the run, the fencing number and the
   * lease's length; again (after a short pause) when PostgreSQL rolled it back for a
   * passing reason. Throws the lost lease when it wrote nothing because another master holds it.
   */
  async #fenced(text: string, values: unknown[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let held: unknown
      try {
        held = (await this.#client.query(text, [this.key, this.#lease.fence, this.#lease.ms, ...values])).rows[0]?.held
      } catch (error) {
        if (!isTransient(error) || attempt >= TRANSIENT_TRIES) throw error
        await pause(Math.min(1000, 10 * 2 ** attempt), undefined)
        continue
      }
      if (held !== 1) throw lostLease(this.key, this.where, this.#lease)
      return
    }
  }
}
