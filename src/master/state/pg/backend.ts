import { CheckpointError, OptionError, StateFileError } from '../../../errors.js'
import { leasesHeld } from './lease.js'
import type { PgClient } from './client.js'
import { preparePgRetryPass } from './retry-pass.js'
import { PG_TABLES, checkpointOf, entriesOf, loadClient, openPgStore, showUrl } from './store.js'
import type { ListedRun, RetryPass, RunList, StateBackend, StateStore, StoreOpenOptions, StoredRun } from '../state-store.js'

/** How the PostgreSQL store is set up. */
export interface PgBackendOptions {
  /** How long a master's lease lasts without renewal (see {@link openPgStore}). */
  leaseMs?: number
  /** How often a standby asks for the lease. */
  pollMs?: number
}

/** Runs whose state is rows of tables in a PostgreSQL (see {@link PgStateStore}), each run held by a lease. */
export class PgBackend implements StateBackend {
  readonly #url: string
  readonly #options: PgBackendOptions

  constructor(url: string, options: PgBackendOptions = {}) {
    this.#url = url
    this.#options = options
  }

  open(key: string, options: StoreOpenOptions = {}): Promise<StateStore> {
    return openPgStore(this.#url, key, { ...this.#options, reset: options.reset, standby: options.standby, signal: options.signal })
  }

  /**
   * Reads the run's checkpoint and journal on a session of its own, without the run's
   * lease and without DDL (a database without the tables has no runs); `locked` says
   * whether a master's session holds the lease.
   */
  read(key: string): Promise<StoredRun> {
    return this.#reading(`Cannot read run '${key}'`, (client, where) => readRun(client, key, where))
  }

  /** Every run of the tables, read as {@link read} reads one, from one snapshot. */
  list(): Promise<RunList> {
    return this.#reading('Cannot list the runs', async (client, where) => ({ where, runs: await listRuns(client, where) }))
  }

  /** Takes the run's lease (held until the pass's release) and prepares the pass (see {@link preparePgRetryPass}). */
  async retryPass(key: string, args: Record<string, string> = {}): Promise<RetryPass | undefined> {
    return preparePgRetryPass(await openPgStore(this.#url, key, this.#options), args)
  }

  /** Runs `read` on a session of its own, ended after; an error other than ours is one line that starts with `failed`. */
  async #reading<T>(failed: string, read: (client: PgClient, where: string) => Promise<T>): Promise<T> {
    const where = showUrl(this.#url)
    const client = await loadClient(this.#url)
    client.on('error', () => undefined) // a broken session fails the query under way
    try {
      await client.connect()
    } catch (error) {
      // A login refused or a database that does not exist: the URL is wrong, not the server down.
      const code = (error as { code?: unknown }).code
      if (typeof code === 'string' && (code.startsWith('28') || code === '3D000'))
        throw new OptionError(`The state store ${where} refused the connection: ${(error as Error).message}`, 'stateStore')
      throw new StateFileError(`Cannot connect to the state store ${where}: ${(error as Error).message}`, where)
    }
    try {
      return await read(client, where)
    } catch (error) {
      if (error instanceof CheckpointError) throw error
      throw new CheckpointError(`${failed} in the state store ${where}: ${(error as Error).message}`, where)
    } finally {
      await client.end().catch(() => undefined)
    }
  }
}

/** How the checkpoint of run `key` is named for people. */
const checkpointWhere = (key: string, where: string): string => `table ${PG_TABLES.checkpoint} (run '${key}') of ${where}`

/** True when the store's tables were made (a database without them, or with them half made by a master starting now, has no runs). */
async function tablesMade(client: PgClient): Promise<boolean> {
  const tables = [PG_TABLES.checkpoint, PG_TABLES.journal]
  return (
    (await client.query('SELECT bool_and(to_regclass(t) IS NOT NULL) AS made FROM unnest($1::text[]) AS t', [tables])).rows[0]?.made ===
    true
  )
}

async function readRun(client: PgClient, key: string, where: string): Promise<StoredRun> {
  const missing = new CheckpointError(
    `No run '${key}' in the state store ${where} (give the --key and --state-store the master was given)`,
    where,
  )
  if (!(await tablesMade(client))) throw missing
  const row = (await client.query(`SELECT checkpoint FROM ${PG_TABLES.checkpoint} WHERE run = $1`, [key])).rows[0]
  if (row === undefined) throw missing
  const checkpoint = checkpointOf(String(row.checkpoint), key, where)
  const records = (await client.query(`SELECT record FROM ${PG_TABLES.journal} WHERE run = $1 ORDER BY id`, [key])).rows.map((r) =>
    String(r.record),
  )
  // Journal rows carry no time: the checkpoint's is the last one known.
  return {
    checkpoint,
    journal: entriesOf(records, key, where),
    journalAt: undefined,
    locked: (await leasesHeld(client, key)).has(key),
    where: checkpointWhere(key, where),
  }
}

/**
 * Every run with a checkpoint, its journal and whether its lease is held: three reads of
 * one snapshot (a run writing meanwhile is seen before or after a write, never half way).
 */
async function listRuns(client: PgClient, where: string): Promise<ListedRun[]> {
  if (!(await tablesMade(client))) return []
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  let checkpoints: Record<string, unknown>[]
  const records = new Map<string, string[]>()
  let held: Set<string>
  try {
    checkpoints = (await client.query(`SELECT run, checkpoint FROM ${PG_TABLES.checkpoint}`)).rows
    for (const row of (await client.query(`SELECT run, record FROM ${PG_TABLES.journal} ORDER BY id`)).rows) {
      const run = String(row.run)
      let list = records.get(run)
      if (list === undefined) records.set(run, (list = []))
      list.push(String(row.record))
    }
    held = await leasesHeld(client)
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
  return checkpoints.map((row): ListedRun => {
    const key = String(row.run)
    try {
      const checkpoint = checkpointOf(String(row.checkpoint), key, where)
      const journal = entriesOf(records.get(key) ?? [], key, where)
      return { key, run: { checkpoint, journal, journalAt: undefined, locked: held.has(key), where: checkpointWhere(key, where) } }
    } catch (error) {
      return { key, where: checkpointWhere(key, where), problem: (error as Error).message }
    }
  })
}
