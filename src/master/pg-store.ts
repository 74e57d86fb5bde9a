import { createHash } from 'node:crypto'
import { CheckpointError, LockError, OptionError, StateError, StateFileError } from '../errors.js'
import { seqsOfRanges } from '../protocol/ranges.js'
import { redactText } from '../redact.js'
import type { Checkpoint } from './checkpoint.js'
import { CHECKPOINT_FORMAT } from './checkpoint.js'
import type { FailedJob } from './failed-log.js'
import { FailedLog } from './failed-log.js'
import type { JobKey } from '../options.js'
import type { JournalEntries, JournalRecord } from './journal.js'
import { parse, stringify } from './json.js'
import type { ResumePoint } from './run-store.js'
import { foldResume, refuseOtherArgs, retryKey } from './run-store.js'
import type { FailedJobsLog, StateStore } from './state-store.js'
import { refuseOtherShardCount, shardCountOf } from './shard-count.js'

/** What the store needs of a pg Client (pg is an optional peer dependency, loaded only when used). */
export interface PgClient {
  connect(): Promise<unknown>
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>
  end(): Promise<void>
  on(event: 'error', listener: (error: Error) => void): unknown
}

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

/**
 * One statement (so one round trip, atomic) writes everything queued: the failed jobs,
 * then the checkpoint if one is due (deleting the journal records it supersedes: the
 * statement's snapshot does not see the rows its own INSERT adds), then the journal
 * records queued after that checkpoint. $1 run, $2 failed entries, $3 checkpoint or
 * null, $4 journal records.
 */
const FLUSH = `WITH f AS (INSERT INTO ${PG_TABLES.failed} (run, entry) SELECT $1, e FROM unnest($2::text[]) WITH ORDINALITY AS t(e, i) ORDER BY i),
 c AS (INSERT INTO ${PG_TABLES.checkpoint} (run, checkpoint) SELECT $1, $3::text WHERE $3::text IS NOT NULL ON CONFLICT (run) DO UPDATE SET checkpoint = EXCLUDED.checkpoint),
 d AS (DELETE FROM ${PG_TABLES.journal} WHERE run = $1 AND $3::text IS NOT NULL)
INSERT INTO ${PG_TABLES.journal} (run, record) SELECT $1, r FROM unnest($4::text[]) WITH ORDINALITY AS t(r, i) ORDER BY i`

/** Held (per transaction) while creating the tables, so two masters starting at once do not race on CREATE. */
const SCHEMA_LOCK = '7361766572756e31'

/** The advisory lock id of run `key`: 64 bits of a SHA-256, as pg_try_advisory_lock(bigint) takes it. */
export function lockId(key: string): string {
  return createHash('sha256').update(`taskmaster-run:${key}`).digest().readBigInt64BE(0).toString()
}

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
  /** Wait for the lock (asking every `pollMs`) instead of refusing when another master holds it. @default false */
  standby?: boolean
  /** @default 250 */
  pollMs?: number
  /** Aborted: a standby stops waiting (the master was stopped). */
  signal?: AbortSignal | undefined
}

/** Loads pg's Client (an optional peer dependency), or says how to install it. */
async function loadClient(url: string): Promise<PgClient> {
  const name = 'pg'
  let pg: { Client?: new (config: { connectionString: string }) => PgClient; default?: { Client: new (config: { connectionString: string }) => PgClient } }
  try {
    pg = (await import(name)) as typeof pg
  } catch {
    throw new OptionError('--state-store postgres://... needs the pg package (an optional peer dependency of taskmaster-run): npm install pg', 'stateStore')
  }
  const Client = pg.Client ?? pg.default?.Client
  if (Client === undefined) throw new OptionError('--state-store: the installed pg package has no Client export', 'stateStore')
  return new Client({ connectionString: url })
}

/**
 * Opens the state of run `key` in the PostgreSQL at `url`: connects, creates the tables on
 * first use, takes the run's advisory lock on this session (it frees itself when the session
 * dies, unlike a file lock on a lost machine) and reads where the last incarnation stopped.
 */
export async function openPgStore(url: string, key: string, options: PgStoreOptions = {}): Promise<PgStateStore> {
  const where = showUrl(url)
  const client = options.client ?? (await loadClient(url))
  const failure: { error?: Error } = {}
  // A connection that breaks emits 'error': kept, and thrown by the store's next call.
  client.on('error', (error) => (failure.error ??= error))
  try {
    await client.connect()
  } catch (error) {
    throw new StateFileError(`Cannot connect to the state store ${where}: ${(error as Error).message}`, where)
  }
  try {
    await client.query('BEGIN')
    await client.query(`SELECT pg_advisory_xact_lock(x'${SCHEMA_LOCK}'::bigint)`)
    for (const statement of SCHEMA) await client.query(statement)
    await client.query('COMMIT')
    const tryLock = async (): Promise<boolean> => (await client.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [lockId(key)])).rows[0]?.locked === true
    // A standby asks again and again (rather than blocking in pg_advisory_lock) so that a stop ends the wait.
    while (!(await tryLock())) {
      if (!options.standby) throw new LockError(`Run '${key}' is in use by another master (it holds the run's lock in the state store ${where}); stop it first, or start this one with --standby`, where)
      if (failure.error !== undefined) throw failure.error
      await pause(options.pollMs ?? 250, options.signal)
      if (options.signal?.aborted) throw new StateError(`Stopped while standing by for run '${key}' (the active master still holds its lock in ${where})`)
    }
    if (options.reset) await reset(client, key)
    const row = (await client.query(`SELECT checkpoint FROM ${PG_TABLES.checkpoint} WHERE run = $1`, [key])).rows[0]
    const previous = row === undefined ? undefined : checkpointOf(String(row.checkpoint), key, where)
    const records = (await client.query(`SELECT record FROM ${PG_TABLES.journal} WHERE run = $1 ORDER BY id`, [key])).rows.map((r) => String(r.record))
    if (previous === undefined && records.length > 0) {
      throw new CheckpointError(`Run '${key}' has journal records but no checkpoint in the state store ${where}: its arguments are unknown, so it cannot be resumed safely. Start it over with --reset`, where)
    }
    return new PgStateStore(client, key, where, previous, entriesOf(records, key, where), failure)
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

/** Forgets the run's checkpoint and journal (and its retry pass's); its failed jobs are kept under a rotated name. */
async function reset(client: PgClient, key: string): Promise<void> {
  await client.query('BEGIN')
  await client.query(`DELETE FROM ${PG_TABLES.checkpoint} WHERE run = ANY($1::text[])`, [[key, retryKey(key)]])
  await client.query(`DELETE FROM ${PG_TABLES.journal} WHERE run = ANY($1::text[])`, [[key, retryKey(key)]])
  await client.query(`UPDATE ${PG_TABLES.failed} SET run = $2 WHERE run = $1`, [key, `${key}.failed.${new Date().toISOString()}`])
  await client.query('COMMIT')
}

function checkpointOf(text: string, key: string, where: string): Checkpoint {
  let value: Partial<Checkpoint> | undefined
  try {
    value = parse(text) as Partial<Checkpoint>
  } catch {
    value = undefined
  }
  if (typeof value !== 'object' || value === null || value.format !== CHECKPOINT_FORMAT || value.key !== key || typeof value.position !== 'number' || !Array.isArray(value.finished)) {
    throw new CheckpointError(`The checkpoint of run '${key}' in the state store ${where} is not one this Taskmaster reads (format ${CHECKPOINT_FORMAT}); finish the run with the version that started it, or use --reset`, where)
  }
  return value as Checkpoint
}

/** A journal record as stored: `[position, last, done, failed, ranges, keys]`, JSON with bigints kept. */
const recordText = (r: JournalRecord): string => stringify([r.position, r.last, r.done, r.failed, r.ranges, r.keys])

/** What the journal records say together, as the file journal reads them. */
function entriesOf(records: readonly string[], key: string, where: string): JournalEntries {
  const entries: JournalEntries = { position: 0, last: null, counts: undefined, seqs: [], keys: [] }
  for (const text of records) {
    const [position, last, done, failed, ranges, keys] = parse(text) as [number, JournalRecord['last'], number, number, number[], JobKey[]]
    if (!Number.isSafeInteger(position) || !Array.isArray(ranges) || !Array.isArray(keys)) throw new CheckpointError(`Run '${key}' has a damaged journal record in the state store ${where}; start over with --reset`, where)
    if (position >= entries.position) {
      entries.position = position
      entries.last = last
    }
    entries.counts = entries.counts === undefined ? { done, failed } : { done: Math.max(entries.counts.done, done), failed: Math.max(entries.counts.failed, failed) }
    for (const seq of seqsOfRanges(ranges)) entries.seqs.push(seq)
    for (const k of keys) entries.keys.push(k)
  }
  return entries
}

/**
 * The state of one run in PostgreSQL: the checkpoint, the journal and the failed jobs in
 * tables, the lock an advisory lock of its session. Writes are asynchronous and ordered:
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
  readonly previous: Checkpoint | undefined
  readonly warnings: readonly string[] = []
  readonly #client: PgClient
  readonly #where: string
  readonly #entries: JournalEntries
  readonly #failure: { error?: Error }
  #fresh: Checkpoint | undefined
  #failed: string[] = []
  #records: string[] = []
  #checkpoint: string | null = null
  #inFlight: Promise<void> | undefined
  #closed = false

  constructor(client: PgClient, key: string, where: string, previous: Checkpoint | undefined, entries: JournalEntries, failure: { error?: Error }) {
    this.#client = client
    this.key = key
    this.#where = where
    this.previous = previous
    this.#entries = entries
    this.#failure = failure
    this.failedLogPath = `table ${PG_TABLES.failed} (run '${key}') of ${where}`
  }

  /**
   * Refuses other arguments than the saved run's; a fresh run's identity is committed before
   * any job goes out. Then refuses a shard count other than the one the key's saved runs have.
   */
  async begin(args: Record<string, string>): Promise<void> {
    refuseOtherArgs(this.key, this.previous?.args, args, this.#where)
    if (this.previous === undefined) await this.#beginFresh(args)
    // Looked for once this run's own checkpoint is committed (see refuseOtherShardCount).
    const own = shardCountOf(this.key, args)
    refuseOtherShardCount(own, await this.#savedRuns(own.base), `the state store ${this.#where}`)
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

  async #beginFresh(args: Record<string, string>): Promise<void> {
    const now = new Date().toISOString()
    const fresh: Checkpoint = { format: CHECKPOINT_FORMAT, key: this.key, args: { ...args }, complete: false, position: 0, last: null, finished: [], counts: { done: 0, failed: 0 }, elapsed: 0, startedAt: now, updatedAt: now }
    await this.#query(`INSERT INTO ${PG_TABLES.checkpoint} (run, checkpoint) VALUES ($1, $2) ON CONFLICT (run) DO UPDATE SET checkpoint = EXCLUDED.checkpoint`, [this.key, stringify(fresh)])
    this.#fresh = fresh
  }

  async discardFresh(): Promise<void> {
    if (this.#fresh === undefined) return
    this.#fresh = undefined
    await this.#query(`DELETE FROM ${PG_TABLES.checkpoint} WHERE run = $1`, [this.key])
  }

  resumePoint(): ResumePoint {
    return foldResume(this.previous ?? this.#fresh, this.#entries)
  }

  journal(record: JournalRecord): void {
    this.#check()
    this.#records.push(recordText(record))
    this.#kick()
  }

  save(checkpoint: Checkpoint): string | undefined {
    this.#check()
    this.#checkpoint = stringify(checkpoint)
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

  /** Writes what is queued, removes the journal once the run is complete, and ends the session (which frees the lock). */
  async close(complete = false): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      while (this.#inFlight !== undefined) await this.#inFlight
      if (this.#failure.error === undefined && this.#pending()) await (this.#inFlight = this.#write())
      if (this.#failure.error !== undefined) throw this.#error(this.#failure.error)
      if (complete) await this.#query(`DELETE FROM ${PG_TABLES.journal} WHERE run = $1`, [this.key])
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

  #error(cause: Error): StateFileError {
    return new StateFileError(`Cannot write the state of run '${this.key}' to the state store ${this.#where}: ${cause.message}`, this.#where)
  }

  #kick(): void {
    if (this.#inFlight === undefined && !this.#closed) this.#inFlight = this.#write()
  }

  /** Writes the queue, one statement at a time, until it is empty (or a write fails). */
  async #write(): Promise<void> {
    try {
      while (this.#pending() && this.#failure.error === undefined) {
        const failed = this.#failed
        const records = this.#records
        const checkpoint = this.#checkpoint
        this.#failed = []
        this.#records = []
        this.#checkpoint = null
        await this.#client.query(FLUSH, [this.key, failed, checkpoint, records])
      }
    } catch (error) {
      this.#failure.error ??= error as Error
    } finally {
      this.#inFlight = undefined
    }
  }

  async #query(text: string, values: unknown[]): Promise<void> {
    this.#check()
    try {
      await this.#client.query(text, values)
    } catch (error) {
      throw this.#error(error as Error)
    }
  }
}
