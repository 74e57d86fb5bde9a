import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { OptionError } from '../../../src/errors.js'
import type { BatchContext, RunInfo, SetupContext, TeardownContext } from '../../../src/options.js'
import { claimQueries, incarnationNumber, runNumber } from '../../../src/pg/claims-sql.js'
import { exactlyOnce } from '../../../src/pg/exactly-once.js'
import type { ExactlyOnce, ExactlyOnceContext, PgTransaction } from '../../../src/pg/exactly-once.js'

// exactlyOnce against a fake pool: an in-memory claims table with transactions (claims
// made in one are seen by others once it commits), scripted failures, and a record of
// every statement. The statements' SQL itself is claims-sql.test.ts's, and a real server's
// in test/e2e/exactly-once.test.ts.

const SQL = claimQueries('taskmaster_claims')
const ID = '00000000000000ff'
const RUN = runNumber(ID)
/** How a claim transaction begins. */
const BEGIN = 'BEGIN ISOLATION LEVEL READ COMMITTED'

/** A pg error. */
function pgError(code: string, message = `error ${code}`): Error {
  return Object.assign(new Error(message), { code })
}

/** The claims table in memory, and the pool over it. */
class FakeDb {
  /** Claims as `<run>:<key>`. */
  readonly claims = new Set<string>()
  /** The incarnation and seq each claim was made under. */
  readonly claimedUnder = new Map<string, { inc: string; seq: number }>()
  readonly runs = new Map<string, string>()
  /** Floors as `<run>:<inc>` -> seq. */
  readonly floors = new Map<string, number>()
  /** Every statement, as `<client> <text>` (the claim statements by name). */
  readonly log: string[] = []
  /** Errors the next statements matching a text throw, in order. */
  readonly failures: { match: (text: string) => boolean; error: Error; after?: boolean }[] = []
  readonly terminated: number[] = []
  /** Connections handed out, and released with an error (destroyed). */
  connected = 0
  destroyed = 0
  /** What the catalog says of the claims, runs and floors tables. */
  shape: Record<string, unknown> = { run: 'bigint', key: 'text', inc: 'bigint', seq: 'bigint', unique: true }
  runsShape: Record<string, unknown> = { run: 'bigint', key: 'text', unique: true }
  floorsShape: Record<string, unknown> = { run: 'bigint', inc: 'bigint', floor: 'bigint', unique: true }
  /** A rule that swallows every claim (the table keeps none). */
  swallow = false
  missing = false
  #clients = 0

  readonly pool = {
    query: (text: string, values: unknown[] = []): Promise<{ rows: Record<string, unknown>[] }> =>
      this.#run('pool', undefined, text, values),
    connect: (): Promise<FakeClient> => {
      this.connected++
      return Promise.resolve(new FakeClient(this, ++this.#clients))
    },
  }

  /** Numbers the connections from 1 again (after setup, whose probe took one). */
  renumber(): void {
    this.#clients = 0
  }

  name(text: string): string {
    for (const [name, sql] of Object.entries(SQL)) if (sql === text) return name
    return text
  }

  /** Runs a statement of `client` (its transaction's claims in `tx`); a failure `after` is thrown once it ran (its answer lost). */
  async #run(who: string, tx: Set<string> | undefined, text: string, values: unknown[]): Promise<{ rows: Record<string, unknown>[] }> {
    this.log.push(`${who} ${this.name(text)}`)
    await Promise.resolve()
    const failure = this.failures.findIndex((f) => f.match(text))
    const fail = failure >= 0 ? this.failures.splice(failure, 1)[0] : undefined
    if (fail !== undefined && fail.after !== true) throw fail.error
    const rows = this.#answer(tx, text, values)
    if (text === 'COMMIT' && tx !== undefined) this.#commit(tx)
    if (fail !== undefined) throw fail.error
    return { rows }
  }

  run(client: FakeClient, text: string, values: unknown[]): Promise<{ rows: Record<string, unknown>[] }> {
    return this.#run(`c${client.processID}`, client.tx, text, values)
  }

  #answer(tx: Set<string> | undefined, text: string, values: unknown[]): Record<string, unknown>[] {
    if (text.startsWith('SELECT to_regclass')) return [{ missing: this.missing }]
    const shape = SQL.shapes.indexOf(text)
    if (shape >= 0) return [[this.shape, this.runsShape, this.floorsShape][shape]]
    if (text === SQL.probe && tx !== undefined)
      return [{ claims: [...tx].filter((c) => c.startsWith(`${String(values[0])}:`)).length, runs: 1 }]
    if (text.startsWith('SELECT pg_terminate_backend')) {
      this.terminated.push(values[0] as number)
      return []
    }
    // The probe at setup registers in a transaction it rolls back.
    if (text === SQL.register && tx === undefined) {
      this.runs.set(values[0] as string, values[1] as string)
      return []
    }
    if (text === SQL.forget) {
      for (const claim of [...this.claims]) if (claim.startsWith(`${String(values[0])}:`)) this.claims.delete(claim)
      this.floors.set(`${String(values[0])}:-1`, Number.MAX_SAFE_INTEGER)
      return []
    }
    if (text === SQL.floor) {
      const [run, inc] = values as [string, string]
      const found = [this.floors.get(`${run}:${inc}`), this.floors.get(`${run}:-1`)].filter((f) => f !== undefined)
      return [{ floor: found.length === 0 ? null : String(Math.max(...found)) }]
    }
    if (text === SQL.compact) {
      const [run, inc, below] = values as [string, string, number]
      this.floors.set(`${run}:${inc}`, Math.max(below, this.floors.get(`${run}:${inc}`) ?? 0))
      for (const claim of [...this.claims]) {
        const under = this.claimedUnder.get(claim)!
        if (claim.startsWith(`${run}:`) && under.inc === inc && under.seq < below) this.claims.delete(claim)
      }
      return []
    }
    if (tx === undefined || (text !== SQL.claimAll && text !== SQL.claimSome)) return []
    const [run, keys, inc, seqs] = values as [string, string[], string, number[]]
    keys.forEach((key, i) => this.claimedUnder.set(`${run}:${key}`, { inc, seq: seqs[i] }))
    if (text === SQL.claimAll) {
      const taken = keys.filter((key) => this.claims.has(`${run}:${key}`))
      if (taken.length > 0 || new Set(keys).size < keys.length) throw pgError('23505', 'duplicate key value violates unique constraint')
      if (!this.swallow) for (const key of keys) tx.add(`${run}:${key}`)
      return []
    }
    if (text === SQL.claimSome) {
      const claimed: string[] = []
      for (const key of keys) {
        if (this.claims.has(`${run}:${key}`) || tx.has(`${run}:${key}`)) continue
        tx.add(`${run}:${key}`)
        claimed.push(key)
      }
      return [{ claimed: claimed.length === 0 ? null : claimed }]
    }
    return []
  }

  /** Applies a committed transaction's claims. */
  #commit(tx: Set<string>): void {
    for (const entry of tx) this.claims.add(entry)
  }
}

class FakeClient implements PgTransaction {
  readonly processID: number
  tx: Set<string> | undefined
  readonly #db: FakeDb
  #dead = false
  #listeners = 0

  constructor(db: FakeDb, id: number) {
    this.#db = db
    this.processID = id
  }

  async query(text: string, values: unknown[] = []): Promise<{ rows: Record<string, unknown>[] }> {
    if (this.#dead) throw new Error('Client has encountered a connection error and is not queryable')
    if (text.startsWith('BEGIN')) this.tx = new Set()
    try {
      return await this.#db.run(this, text, values)
    } catch (error) {
      // A connection that broke stays broken.
      if ((error as { code?: string }).code?.startsWith('E') === true) this.#dead = true
      throw error
    } finally {
      if (text === 'COMMIT' || text === 'ROLLBACK') this.tx = undefined
    }
  }

  on(): this {
    this.#listeners++
    return this
  }

  removeListener(): this {
    this.#listeners--
    return this
  }

  release(error?: Error | boolean): void {
    expect(this.#listeners).toBe(0)
    if (error !== undefined && error !== false) this.#db.destroyed++
  }
}

/** A batch context of run ID in incarnation `incarnation`, durable up to `durable`. */
function context(
  state: unknown,
  seqs: number[],
  run: Partial<RunInfo> = {},
  signal = new AbortController().signal,
): BatchContext & { run: RunInfo } {
  return {
    attempts: seqs.map(() => 1),
    seqs,
    signal,
    state,
    args: {},
    run: { key: 'users', id: ID, incarnation: 'i1', durable: 0, ...run },
  }
}

const setupContext: SetupContext = { args: {}, concurrency: 2, batch: 100 }
const jobs = (...ids: number[]): { id: number }[] => ids.map((id) => ({ id }))

/** An exactlyOnce over a fake database whose function records the ids it was given. */
async function opened(fn?: (jobs: { id: number }[], tx: PgTransaction, ctx: ExactlyOnceContext) => unknown, extra = {}) {
  const db = new FakeDb()
  const ran: number[][] = []
  const once: ExactlyOnce = exactlyOnce(
    (given: { id: number }[], tx, ctx) => {
      ran.push(given.map((job) => job.id))
      return fn?.(given, tx, ctx)
    },
    { db: db.pool, reconnect: 1, ...extra },
  )
  const state = await once.setup(setupContext)
  db.log.length = 0
  db.renumber()
  return { db, ran, once, state }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('exactlyOnce: a batch', () => {
  it('claims every key with one statement, runs the function on every job with the transaction, and commits', async () => {
    const { db, ran, once, state } = await opened(async (_jobs, tx) => {
      await tx.query('UPDATE t SET n = n + 1')
    })
    await once.handleBatch(jobs(1, 2, 3), context(state, [0, 1, 2]))
    expect(ran).toEqual([[1, 2, 3]])
    expect(db.log).toEqual(['pool register', `c1 ${BEGIN}`, 'c1 claimAll', 'c1 floor', 'c1 UPDATE t SET n = n + 1', 'c1 COMMIT'])
    expect(db.claimedUnder.get(`${RUN}:3`)).toEqual({ inc: incarnationNumber('i1'), seq: 2 })
    expect([...db.claims].sort()).toEqual([`${RUN}:1`, `${RUN}:2`, `${RUN}:3`])
    expect(db.runs).toEqual(new Map([[RUN, 'users']]))
  })

  it('a job delivered again finds its claim: only the others run, and a batch of jobs all claimed runs nothing', async () => {
    const { db, ran, once, state } = await opened()
    await once.handleBatch(jobs(1, 2), context(state, [0, 1]))
    db.log.length = 0
    await once.handleBatch(jobs(2, 3), context(state, [1, 2], { incarnation: 'i2' }))
    expect(ran).toEqual([[1, 2], [3]])
    expect(db.log).toEqual([`c2 ${BEGIN}`, 'c2 claimAll', 'c2 ROLLBACK', `c2 ${BEGIN}`, 'c2 claimSome', 'c2 floor', 'c2 COMMIT'])
    await once.handleBatch(jobs(1, 3), context(state, [0, 2], { incarnation: 'i2' }))
    expect(ran).toHaveLength(2)
  })

  it('gives the function the attempts and seqs of the jobs it claimed, its own setup state, and the run', async () => {
    const seen: unknown[] = []
    const { once, state } = await opened(
      (_jobs, _tx, ctx) => void seen.push({ seqs: ctx.seqs, attempts: ctx.attempts, state: ctx.state as unknown, key: ctx.run.key }),
      {
        setup: () => 'mine',
      },
    )
    await once.handleBatch(jobs(1), context(state, [7]))
    await once.handleBatch(jobs(1, 2), { ...context(state, [7, 8]), attempts: [2, 1] })
    expect(seen).toEqual([
      { seqs: [7], attempts: [1], state: 'mine', key: 'users' },
      { seqs: [8], attempts: [1], state: 'mine', key: 'users' },
    ])
  })

  it('a function that throws rolls back: no claim is left, the job runs again next time', async () => {
    let fail = true
    const { db, ran, once, state } = await opened(() => {
      if (fail) throw new Error('bad row')
    })
    await expect(once.handleBatch(jobs(1, 2), context(state, [0, 1]))).rejects.toThrow('bad row')
    expect(db.claims.size).toBe(0)
    expect(db.log.at(-1)).toBe('c1 ROLLBACK')
    fail = false
    await once.handleBatch(jobs(1, 2), context(state, [0, 1]))
    expect(ran).toEqual([
      [1, 2],
      [1, 2],
    ])
    expect(db.destroyed).toBe(0)
  })

  it('failures the function returns roll the transaction back too, and fail the call (a single job with its own error)', async () => {
    const { db, once, state } = await opened((given) => [{ index: 0, error: new Error(`row ${given[0].id} is bad`) }])
    await expect(once.handleBatch(jobs(1, 2), context(state, [0, 1]))).rejects.toThrow(
      'exactlyOnce: the function returned 1 failed jobs of 2 (the first: row 1 is bad (at test/unit/pg/exactly-once.test.ts:',
    )
    await expect(once.handleBatch(jobs(1), context(state, [0]))).rejects.toThrow(/^row 1 is bad$/)
    expect(db.claims.size).toBe(0)
  })

  it("returning anything but nothing or failures (a query's result, a string) fails every job of the call with what to return, rolled back, not split", async () => {
    const expected =
      "exactlyOnce's function returned %s; it must return nothing (every job done) or an array of { index, error } or { job, error } (those jobs failed)"
    for (const [value, name] of [
      [{ rows: [], rowCount: 2 }, 'an object'],
      ['done', 'a string'],
      [{ rowCount: 2 }, 'an object'],
    ] as const) {
      // A batch of one is written fine (its return is nothing), so job 1 holds a claim.
      const { db, ran, once, state } = await opened(async (given, tx) => {
        await tx.query('UPDATE t SET n = n + 1')
        return given.length > 1 ? value : undefined
      })
      await once.handleBatch(jobs(1), context(state, [0]))
      db.log.length = 0
      const failed = await once.handleBatch(jobs(1, 2, 3), context(state, [0, 1, 2]))
      // Job 1 was done before (its claim): only 2 and 3 were given to the function, and fail.
      expect(failed).toEqual([
        { index: 1, error: new TypeError(expected.replace('%s', name)) },
        { index: 2, error: new TypeError(expected.replace('%s', name)) },
      ])
      expect(db.log.at(-1)).toBe('c2 ROLLBACK')
      expect([...db.claims]).toEqual([`${RUN}:1`])
      expect(ran).toEqual([[1], [2, 3]])
    }
    // handleJob: the job fails with it.
    const one = await opened(() => 'done')
    const job = { attempt: 1, seq: 4, signal: new AbortController().signal, state: one.state, args: {}, run: context(one.state, []).run }
    await expect(one.once.handleJob({ id: 9 }, job)).rejects.toThrow(expected.replace('%s', 'a string'))
    expect(one.db.claims.size).toBe(0)
    // Nothing (void) is every job done.
    const fine = await opened(() => undefined)
    expect(await fine.once.handleBatch(jobs(1, 2), context(fine.state, [0, 1]))).toBeUndefined()
    expect(fine.db.claims.size).toBe(2)
  })

  it('failures of another shape ([row], an entry that is no object) fail the call saying what shape is expected', async () => {
    const { db, once, state } = await opened((given) => [given[0]])
    const shape = 'return an array of { index, error } or { job, error }'
    await expect(once.handleBatch([{ id: 'x' }] as never, context(state, [0]))).rejects.toThrow(
      `exactlyOnce's function returned failures whose entry 0 names a job that is not one of the batch (give the same object, or its index); ${shape}`,
    )
    const numbers = await opened(() => [{ id: 'x' }, 12345678])
    await expect(numbers.once.handleBatch(jobs(1, 2), context(numbers.state, [0, 1]))).rejects.toThrow(
      `exactlyOnce's function returned failures whose entry 0 names a job that is not one of the batch (give the same object, or its index); ${shape}`,
    )
    const bare = await opened(() => [12345678])
    await expect(bare.once.handleBatch(jobs(1, 2), context(bare.state, [0, 1]))).rejects.toThrow(
      `exactlyOnce's function returned failures whose entry 0 is not an object; ${shape}`,
    )
    expect(db.claims.size + numbers.db.claims.size + bare.db.claims.size).toBe(0)
  })

  it('a COMMIT whose answer is lost (the connection dropped) is tried again, and the claims it committed keep the jobs from running twice', async () => {
    const { db, ran, once, state } = await opened()
    db.failures.push({
      match: (text) => text === 'COMMIT',
      error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      after: true,
    })
    await once.handleBatch(jobs(1, 2), context(state, [0, 1]))
    expect(ran).toEqual([[1, 2]])
    expect(db.claims.size).toBe(2)
    expect(db.destroyed).toBe(1)
  })

  it('waits for a database that restarts (a refused connection, a server shutting down), trying again; fails once `reconnect` seconds passed', async () => {
    const { db, ran, once, state } = await opened()
    db.failures.push({ match: (text) => text === BEGIN, error: pgError('57P01', 'terminating connection due to administrator command') })
    db.failures.push({
      match: (text) => text === BEGIN,
      error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    })
    await once.handleBatch(jobs(1), context(state, [0]))
    expect(ran).toEqual([[1]])
    for (let i = 0; i < 100; i++)
      db.failures.push({ match: (text) => text === BEGIN, error: pgError('57P03', 'the database system is starting up') })
    const started = Date.now()
    await expect(once.handleBatch(jobs(2), context(state, [1]))).rejects.toThrow('the database system is starting up')
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    // Another error is not tried again.
    db.failures.length = 0
    db.failures.push({ match: (text) => text === BEGIN, error: pgError('42501', 'permission denied') })
    await expect(once.handleBatch(jobs(3), context(state, [2]))).rejects.toThrow('permission denied')
    expect(ran).toEqual([[1]])
  })

  it('a call abandoned (--job-timeout) while the function hangs: its backend is terminated, the call rejects with the reason, nothing commits', async () => {
    const hang = new Promise(() => {})
    const { db, once, state } = await opened(() => hang)
    const controller = new AbortController()
    const call = once.handleBatch(jobs(1), context(state, [0], {}, controller.signal))
    await vi.waitFor(() => expect(db.log).toContain('c1 claimAll'))
    controller.abort(new Error('timed out after 5 s'))
    await expect(call).rejects.toThrow('timed out after 5 s')
    await vi.waitFor(() => expect(db.terminated).toEqual([1]))
    expect(db.log).not.toContain('c1 COMMIT')
    expect(db.claims.size).toBe(0)
    expect(db.destroyed).toBe(1)
  })

  it('deletes the claims of the jobs the master says are durable, one range in one statement beside the batches', async () => {
    const { db, once, state } = await opened()
    await once.handleBatch(jobs(1, 2), context(state, [0, 1]))
    await once.handleBatch(jobs(3), context(state, [2], { durable: 1 }))
    await vi.waitFor(() => expect([...db.claims].sort()).toEqual([`${RUN}:2`, `${RUN}:3`]))
    expect(db.log.filter((line) => line.endsWith('compact'))).toEqual(['pool compact'])
    // Nothing moved: no compaction.
    await once.handleBatch(jobs(4), context(state, [3], { durable: 1 }))
    expect(db.log.filter((line) => line.endsWith('compact'))).toHaveLength(1)
    await once.handleBatch(jobs(5), context(state, [4], { durable: 4 }))
    await vi.waitFor(() => expect([...db.claims].sort()).toEqual([`${RUN}:5`]))
  })

  it("a job below its incarnation's floor (its claim compacted) is done without running: a slave dropped and come back with its copies", async () => {
    const { db, ran, once, state } = await opened()
    await once.handleBatch(jobs(1, 2), context(state, [0, 1]))
    await once.handleBatch(jobs(3), context(state, [2], { durable: 2 }))
    await vi.waitFor(() => expect([...db.claims]).toEqual([`${RUN}:3`]))
    expect(db.floors.get(`${RUN}:${incarnationNumber('i1')}`)).toBe(2)
    // The copies of 1 and 2 a dropped slave held, beside a job of its own above the floor: the
    // claims (the fast way) go through, the floor read after them says which are done.
    await once.handleBatch(jobs(1, 2, 4), context(state, [0, 1, 3]))
    expect(ran).toEqual([[1, 2], [3], [4]])
    expect(db.log.slice(-4)).toEqual([`c3 ${BEGIN}`, 'c3 claimAll', 'c3 floor', 'c3 COMMIT'])
    // All below the floor: nothing runs; another incarnation's floor says nothing of it.
    await once.handleBatch(jobs(1), context(state, [1]))
    expect(ran).toHaveLength(3)
    await once.handleBatch(jobs(5), context(state, [1], { incarnation: 'i2' }))
    expect(ran).toEqual([[1, 2], [3], [4], [5]])
  })

  it('a run complete (its claims forgotten) leaves a floor above every seq: a copy held past the end never runs', async () => {
    const { ran, once, state } = await opened()
    await once.handleBatch(jobs(1), context(state, [0]))
    await once.teardown(state, { complete: true, run: context(state, []).run })
    await once.handleBatch(jobs(1, 2), context(state, [0, 1], { incarnation: 'i9' }))
    expect(ran).toEqual([[1]])
  })

  it("leaves the claims of an incarnation that ended to the run's end (another numbering cannot place them)", async () => {
    const { db, once, state } = await opened()
    await once.handleBatch(jobs(1, 2), context(state, [0, 1]))
    await once.handleBatch(jobs(3), context(state, [0], { incarnation: 'i2', durable: 100 }))
    await vi.waitFor(() => expect(db.log).toContain('pool compact'))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect([...db.claims].sort()).toEqual([`${RUN}:1`, `${RUN}:2`, `${RUN}:3`])
    expect(db.claimedUnder.get(`${RUN}:3`)).toEqual({ inc: incarnationNumber('i2'), seq: 0 })
  })

  it('runs one compaction at a time; one that fails is covered by the next', async () => {
    const { db, once, state } = await opened()
    await once.handleBatch(jobs(1, 2, 3), context(state, [0, 1, 2]))
    db.failures.push({ match: (text) => text === SQL.compact, error: pgError('57P01', 'terminating connection') })
    await once.handleBatch(jobs(4), context(state, [3], { durable: 1 }))
    await vi.waitFor(() => expect(db.log).toContain('pool compact'))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(db.claims.size).toBe(4)
    await once.handleBatch(jobs(5), context(state, [4], { durable: 1 }))
    await vi.waitFor(() => expect([...db.claims].sort()).toEqual([`${RUN}:2`, `${RUN}:3`, `${RUN}:4`, `${RUN}:5`]))
  })

  it('keys: the id, the job itself, or key(job); a long one claimed by its hash; a job without one is a one-line error', async () => {
    const { db, once, state } = await opened(undefined)
    await once.handleBatch([{ id: 'a' }, 7n, 'x'.repeat(300)], context(state, [0, 1, 2]))
    const claims = [...db.claims]
    expect(claims).toHaveLength(3)
    expect(claims).toContain(`${RUN}:a`)
    expect(claims).toContain(`${RUN}:7`)
    expect(claims.some((claim) => /^-?\d+:sha256:[0-9a-f]{64}$/.test(claim))).toBe(true)
    await expect(once.handleBatch([{ name: 'no id' }], context(state, [3]))).rejects.toThrow(
      new OptionError(
        'exactlyOnce: job 0 of the batch has no key (no id); give key: (job) => a string, number or bigint unique in the run',
        'key',
      ),
    )
    const keyed = await opened(undefined, { key: (job: { a: number; b: number }) => `${job.a}/${job.b}` })
    await keyed.once.handleBatch([{ a: 1, b: 2 }], context(keyed.state, [0]))
    expect([...keyed.db.claims]).toEqual([`${RUN}:1/2`])
  })

  it("a short key that reads like a long one's hash claims apart from it: both run", async () => {
    const long = 'x'.repeat(300)
    const lookalike = `sha256:${createHash('sha256').update(long).digest('hex')}`
    const { db, ran, once, state } = await opened()
    await once.handleBatch([{ id: long }, { id: lookalike }] as never, context(state, [0, 1]))
    expect(ran).toEqual([[long, lookalike]])
    expect(db.claims.size).toBe(2)
    // Each found by its own claim when delivered again.
    await once.handleBatch([{ id: lookalike }] as never, context(state, [1]))
    await once.handleBatch([{ id: long }] as never, context(state, [0]))
    expect(ran).toHaveLength(1)
  })

  it('handleJob is a batch of one, keyed and compacted the same way', async () => {
    const { db, ran, once, state } = await opened()
    const ctx = { attempt: 1, seq: 4, signal: new AbortController().signal, state, args: {}, run: context(state, []).run }
    await once.handleJob({ id: 9 }, ctx)
    await once.handleJob({ id: 9 }, ctx)
    expect(ran).toEqual([[9]])
    expect([...db.claims]).toEqual([`${RUN}:9`])
  })

  it('a claims table dropped under the run is made again (said once), and the batch goes on', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { db, ran, once, state } = await opened()
    db.failures.push({ match: (text) => text === SQL.claimAll, error: pgError('42P01', 'relation "taskmaster_claims" does not exist') })
    db.missing = true
    await once.handleBatch(jobs(1), context(state, [0]))
    expect(ran).toEqual([[1]])
    expect(db.log).toContain(`c2 ${SQL.create[0]}`)
    expect(warn).toHaveBeenCalledTimes(1)
    expect(warn.mock.calls[0][0]).toMatch(
      /^exactlyOnce: the claims table "taskmaster_claims" was missing while the run ran; it is made again/,
    )
  })
})

describe('exactlyOnce: setup, teardown and mistakes', () => {
  it('refuses a handler module that did not export its setup (no state of its own), in one line', async () => {
    const { once } = await opened()
    await expect(once.handleBatch(jobs(1), context(undefined, [0]))).rejects.toThrow(
      'exactlyOnce: the handler module must export the setup and teardown exactlyOnce made: export const { handleBatch, setup, teardown } = exactlyOnce(...)',
    )
  })

  it('refuses a master that does not say the run identity (an earlier version)', async () => {
    const { once, state } = await opened()
    await expect(once.handleBatch(jobs(1), context(state, [0], { id: undefined }))).rejects.toThrow(
      "exactlyOnce: the master does not say the run's identity: it is of an earlier version of taskmaster-run than this slave",
    )
  })

  it('refuses wrong options when the module loads, naming them', () => {
    const db = new FakeDb().pool
    expect(() => exactlyOnce(undefined as never, { db })).toThrow(
      'exactlyOnce: its first argument must be a function (jobs, tx, ctx) => ..., got undefined',
    )
    expect(() => exactlyOnce(() => {}, undefined as never)).toThrow(
      'exactlyOnce: its second argument must be the options ({ db: (args) => args.db }), got undefined',
    )
    expect(() => exactlyOnce(() => {}, { db: 'postgres://x' as never })).toThrow(
      "exactlyOnce: db must be a pg Pool, or a function of the run's arguments returning one or a connection string (db: (args) => args.db), got a string",
    )
    expect(() => exactlyOnce(() => {}, { db, table: 'a.b.c' })).toThrow(
      'exactlyOnce: table must be a table name (or schema.table), got a string',
    )
    expect(() => exactlyOnce(() => {}, { db, key: 'id' as never })).toThrow('exactlyOnce: key must be a function job => key, got a string')
    expect(() => exactlyOnce(() => {}, { db, reconnect: -1 })).toThrow('exactlyOnce: reconnect must be a number of seconds >= 0, got -1')
  })

  it('setup: a table that is not a claims table is one line naming what it lacks; a pg Client is refused; a missing argument is named', async () => {
    const db = new FakeDb()
    db.shape = { run: 'text', key: 'text', unique: false }
    await expect(exactlyOnce(() => {}, { db: db.pool }).setup(setupContext)).rejects.toThrow(
      'exactlyOnce: the table "taskmaster_claims" is not a claims table (it needs run bigint, key text, inc bigint, seq bigint and a unique index on exactly (run, key); it has run text, key text, no column inc, no column seq, no unique index on (run, key)); give another table',
    )
    db.shape = {}
    await expect(exactlyOnce(() => {}, { db: db.pool }).setup(setupContext)).rejects.toThrow(
      'it has no column run, no column key, no column inc, no column seq, no unique index',
    )
    db.shape = new FakeDb().shape
    db.runsShape = {}
    await expect(exactlyOnce(() => {}, { db: db.pool }).setup(setupContext)).rejects.toThrow(
      'exactlyOnce: the table "taskmaster_claims_runs" is not a runs table of claims (it needs run bigint, key text and a unique index on exactly (run); it has no column run, no column key, no unique index on (run)); give another table',
    )
    db.runsShape = new FakeDb().runsShape
    db.floorsShape = { run: 'bigint', inc: 'bigint', floor: 'integer', unique: true }
    await expect(exactlyOnce(() => {}, { db: db.pool }).setup(setupContext)).rejects.toThrow(
      'exactlyOnce: the table "taskmaster_claims_floors" is not a floors table of claims (it needs run bigint, inc bigint, floor bigint and a unique index on exactly (run, inc); it has run bigint, inc bigint, floor integer, a unique index on (run, inc)); give another table',
    )
    const client = { query: () => Promise.resolve({ rows: [] }) }
    await expect(exactlyOnce(() => {}, { db: () => client as never }).setup(setupContext)).rejects.toThrow(
      'exactlyOnce: db(args) returned a pg Client; give a Pool or a connection string',
    )
    await expect(exactlyOnce(() => {}, { db: (args) => args.db }).setup(setupContext)).rejects.toThrow(
      'exactlyOnce: no database: give the run argument db (db=postgres://user@host:5432/database, or db=env:DATABASE_URL)',
    )
  })

  it('setup tries a claim, rolled back: a claims table that refuses one (NOT NULL, CHECK, no partition) or swallows it (a rule) is one line', async () => {
    const db = new FakeDb()
    db.failures.push({
      match: (text) => text === SQL.claimAll,
      error: pgError('23502', 'null value in column "extra" of relation "taskmaster_claims" violates not-null constraint'),
    })
    const error = await exactlyOnce(() => {}, { db: db.pool })
      .setup(setupContext)
      .catch((e: unknown) => e)
    expect(error).toEqual(
      new OptionError(
        'exactlyOnce: a claim tried at setup in the claims tables failed: null value in column "extra" of relation "taskmaster_claims" violates not-null constraint; give another table',
        'table',
      ),
    )
    expect(db.log.slice(-2)).toEqual(['c1 claimAll', 'c1 ROLLBACK'])
    db.swallow = true
    await expect(exactlyOnce(() => {}, { db: db.pool }).setup(setupContext)).rejects.toThrow(
      'exactlyOnce: a claim tried at setup was not kept in "taskmaster_claims" (a rule or trigger?): claims there could not refuse a second run; give another table',
    )
    // A server going away under the probe is waited for, as for the rest of setup.
    db.swallow = false
    db.failures.push({ match: (text) => text === SQL.claimAll, error: pgError('57P03', 'the database system is starting up') })
    await exactlyOnce(() => {}, { db: db.pool }).setup(setupContext)
    expect(db.claims.size).toBe(0)
    expect(db.runs.size).toBe(0)
  })

  it('setup makes missing tables under a lock; a database that is restarting is waited for', async () => {
    const db = new FakeDb()
    db.missing = true
    db.failures.push({
      match: (text) => text.startsWith('SELECT to_regclass'),
      error: pgError('57P03', 'the database system is starting up'),
    })
    const once = exactlyOnce(() => {}, { db: db.pool })
    await once.setup(setupContext)
    expect(db.log.filter((line) => line.startsWith('c'))).toEqual([
      'c1 BEGIN',
      "c1 SELECT pg_advisory_xact_lock(x'7461736b6f6e6365'::bigint)",
      `c1 ${SQL.create[0]}`,
      `c1 ${SQL.create[1]}`,
      `c1 ${SQL.create[2]}`,
      'c1 COMMIT',
      'c2 BEGIN',
      'c2 register',
      'c2 claimAll',
      'c2 probe',
      'c2 compact',
      'c2 floor',
      'c2 ROLLBACK',
    ])
  })

  it("teardown forgets a complete run's claims (and only then), and runs the module's own teardown with its state", async () => {
    const torn: unknown[] = []
    const { db, once, state } = await opened(undefined, { setup: () => 'mine', teardown: (mine: unknown) => void torn.push(mine) })
    await once.handleBatch(jobs(1, 2), context(state, [0, 1]))
    const run = context(state, []).run
    await once.teardown(state, { complete: false, run } satisfies TeardownContext)
    expect(db.claims.size).toBe(2)
    await once.teardown(state, { complete: true, run })
    expect(db.claims.size).toBe(0)
    expect(db.log.at(-1)).toBe('pool forget')
    expect(torn).toEqual(['mine', 'mine'])
  })
})
