import { CheckpointError } from '../../../errors.js'
import { leaseHeld } from './lease.js'
import type { PgClient } from './client.js'
import { preparePgRetryPass } from './retry-pass.js'
import { PG_TABLES, checkpointOf, connect, entriesOf, loadClient, openPgStore, showUrl } from './store.js'
import type { RetryPass, StateBackend, StateStore, StoreOpenOptions, StoredRun } from '../state-store.js'

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
  async read(key: string): Promise<StoredRun> {
    const where = showUrl(this.#url)
    const client = await loadClient(this.#url)
    client.on('error', () => undefined) // a broken session fails the query under way
    await connect(client, where)
    try {
      return await readRun(client, key, where)
    } catch (error) {
      if (error instanceof CheckpointError) throw error
      throw new CheckpointError(`Cannot read run '${key}' in the state store ${where}: ${(error as Error).message}`, where)
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  /** Takes the run's lease (held until the pass's release) and prepares the pass (see {@link preparePgRetryPass}). */
  async retryPass(key: string, args: Record<string, string> = {}): Promise<RetryPass | undefined> {
    return preparePgRetryPass(await openPgStore(this.#url, key, this.#options), args)
  }
}

async function readRun(client: PgClient, key: string, where: string): Promise<StoredRun> {
  const missing = new CheckpointError(
    `No run '${key}' in the state store ${where} (give the --key and --state-store the master was given)`,
    where,
  )
  const tables = (await client.query('SELECT to_regclass($1) IS NOT NULL AS made', [PG_TABLES.checkpoint])).rows[0]
  if (tables?.made !== true) throw missing
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
    locked: await leaseHeld(client, key),
    where: `table ${PG_TABLES.checkpoint} (run '${key}') of ${where}`,
  }
}
