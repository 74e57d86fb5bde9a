import { freshCheckpoint } from '../checkpoint.js'
import type { FailedJob } from '../failed-log.js'
import { parse, stringify } from '../json.js'
import { HELD, fenced } from './lease.js'
import type { PgStateStore } from './store.js'
import { PG_TABLES, checkpointOf, failedTable, rotatedRun } from './store.js'
import type { RetryPass } from '../state-store.js'
import { RETRY_LOG_ARG, retryKey } from '../store-common.js'

/**
 * Records a new retry pass and moves the run's failed jobs aside for it, in one statement
 * fenced by the run's lease ($1 the run): the pass's checkpoint ($4 the pass, $5 its
 * checkpoint, naming $6), its old journal gone, the failed jobs renamed to run $6. Atomic:
 * a kill leaves the jobs in place and no new pass, or both moved and recorded.
 */
const MOVE = fenced([
  `c AS (INSERT INTO ${PG_TABLES.checkpoint} (run, checkpoint) SELECT $4, $5::text WHERE ${HELD} ON CONFLICT (run) DO UPDATE SET checkpoint = EXCLUDED.checkpoint)`,
  `d AS (DELETE FROM ${PG_TABLES.journal} WHERE run = $4 AND ${HELD})`,
  `m AS (UPDATE ${PG_TABLES.failed} SET run = $6 WHERE run = $1 AND ${HELD})`,
])

/** Failed jobs read a page at a time: memory stays bounded whatever the log's length. */
const PAGE = 1000

/** The jobs of the failed jobs of run `run` (in the order they were logged), from the `position`-th. */
async function* failedJobs(store: PgStateStore, run: string, position: number): AsyncGenerator<unknown> {
  let rows = await store.rows(`SELECT id, entry FROM ${PG_TABLES.failed} WHERE run = $1 ORDER BY id LIMIT ${PAGE} OFFSET $2`, [
    run,
    position,
  ])
  while (rows.length > 0) {
    for (const row of rows) yield (parse(String(row.entry)) as FailedJob).job
    rows = await store.rows(`SELECT id, entry FROM ${PG_TABLES.failed} WHERE run = $1 AND id > $2 ORDER BY id LIMIT ${PAGE}`, [
      run,
      rows.at(-1)!.id,
    ])
  }
}

const countFailed = async (store: PgStateStore, run: string): Promise<number> =>
  Number((await store.rows(`SELECT count(*) AS n FROM ${PG_TABLES.failed} WHERE run = $1`, [run]))[0]?.n ?? 0)

/**
 * Prepares `--retry-failed` for the run of `store` (open, holding the run's lease: held
 * until the pass's release, so the run cannot log failed jobs meanwhile). An interrupted
 * pass (its checkpoint incomplete, its jobs still there) is resumed; else the run's failed
 * jobs are moved to `<key>.failed.<time>` and a new pass `<key>.retry` is recorded with
 * them and `args` (the arguments given, as shown; see {@link MOVE}). Undefined, with the
 * store closed, when there is nothing to retry.
 */
export async function preparePgRetryPass(store: PgStateStore, args: Record<string, string> = {}): Promise<RetryPass | undefined> {
  const pass = retryKey(store.key)
  const prepared = (run: string, count: number, resumed: boolean): RetryPass => ({
    key: pass,
    args: { ...args, [RETRY_LOG_ARG]: run },
    log: failedTable(run, store.where),
    count,
    resumed,
    jobs: (position) => failedJobs(store, run, position),
    // The pass's own state is fenced by its own lease: a lost hold on the run changes nothing of it.
    release: () => store.close().catch(() => undefined),
  })
  try {
    const row = (await store.rows(`SELECT checkpoint FROM ${PG_TABLES.checkpoint} WHERE run = $1`, [pass]))[0]
    const previous = row === undefined ? undefined : checkpointOf(String(row.checkpoint), pass, store.where)
    const saved = previous?.args[RETRY_LOG_ARG]
    if (previous !== undefined && !previous.complete && saved !== undefined) {
      const count = await countFailed(store, saved)
      if (count > 0) return prepared(saved, count, true)
    }
    const count = await countFailed(store, store.key)
    if (count === 0) {
      await store.close()
      return undefined
    }
    const rotated = rotatedRun(store.key)
    await store.write(MOVE, [pass, stringify(freshCheckpoint(pass, { ...args, [RETRY_LOG_ARG]: rotated })), rotated])
    // No reset: the master resumes the pass from the checkpoint just written.
    return prepared(rotated, count, false)
  } catch (error) {
    await store.close().catch(() => undefined)
    throw error
  }
}
