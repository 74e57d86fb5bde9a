import { describe, expect, it } from 'vitest'
import { JobSourceError, OptionError } from '../../../src/errors.js'
import { pgTable } from '../../../src/pg/index.js'

/** A stand-in for a pg client: records each query, answers from `pages` in turn. */
function fakeDb(pages: Record<string, unknown>[][], dataTypeID = 20) {
  const queries: { text: string; values: unknown[] | undefined }[] = []
  return {
    queries,
    query: (text: string, values?: unknown[]) => {
      queries.push({ text, values })
      return Promise.resolve({ rows: pages.shift() ?? [], fields: [{ name: 'user id', dataTypeID }] })
    },
  }
}

async function collect(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = []
  for await (const row of iterable) out.push(row)
  return out
}

describe('pgTable', () => {
  it('pages by key with quoted identifiers, the where clause ANDed, never OFFSET; int8 keys become bigints', async () => {
    const db = fakeDb([[{ 'user id': '9007199254740993' }], []])
    const source = pgTable({
      db,
      table: 'app.my"users',
      key: 'user id',
      columns: ['email'],
      where: 'active = $1',
      params: [true],
      pageSize: 1,
    })
    const rows = await collect(source.getJobs(undefined))
    expect(rows).toEqual([{ 'user id': '9007199254740993' }])
    expect(source.key(rows[0] as Record<string, unknown>)).toBe(9007199254740993n)
    expect(db.queries).toEqual([
      { text: 'SELECT "email", "user id" FROM "app"."my""users" WHERE (active = $1) ORDER BY "user id" LIMIT $2', values: [true, 1] },
      {
        text: 'SELECT "email", "user id" FROM "app"."my""users" WHERE (active = $1) AND "user id" > $3 ORDER BY "user id" LIMIT $2',
        values: [true, 1, '9007199254740993'],
      },
    ])
  })

  it('resumes after a bigint `last` passed as its exact digits', async () => {
    const db = fakeDb([[]])
    expect(await collect(pgTable({ db, table: 't', pageSize: 10 }).getJobs(2n ** 60n))).toEqual([])
    expect(db.queries).toEqual([{ text: 'SELECT * FROM "t" WHERE "id" > $2 ORDER BY "id" LIMIT $1', values: [10, '1152921504606846976'] }])
  })

  it('keeps keys as pg returns them for other column types', async () => {
    const db = fakeDb([[{ 'user id': 5 }], []], 23)
    const source = pgTable({ db, table: 't', key: 'user id' })
    const rows = await collect(source.getJobs(undefined))
    expect(source.key(rows[0] as Record<string, unknown>)).toBe(5)
  })

  it('refuses what is not a client, naming the option', () => {
    expect(() => pgTable({ db: {} as never, table: 't' })).toThrow(
      new OptionError(
        "pgTable: db must be a pg Client or Pool (anything with query(text, values)), or a function of the run's arguments returning one or a connection string (db: (args) => args.db), got an object",
        'db',
      ),
    )
    expect(() => pgTable({ db: fakeDb([]), table: '' })).toThrow(
      new OptionError('pgTable: table must be a non-empty string, got ', 'table'),
    )
  })

  it('refuses a composite key it cannot walk, naming the option', () => {
    const db = fakeDb([])
    expect(() => pgTable({ db, table: 't', key: [] })).toThrow(
      new OptionError('pgTable: key must be a column name or a non-empty array of them', 'key'),
    )
    expect(() => pgTable({ db, table: 't', key: ['a', 'a'] })).toThrow(new OptionError('pgTable: key names a column twice: a, a', 'key'))
    expect(() => pgTable({ db, table: 't', key: ['a', ''] })).toThrow(
      new OptionError('pgTable: key must be a non-empty string, got ', 'key'),
    )
    expect(() => pgTable({ db, table: 't', key: ['a', 'b'], keyType: 'bigint' })).toThrow(
      new OptionError('pgTable: keyType is for one key column; a composite key is a string key', 'keyType'),
    )
  })
})

/**
 * A stand-in for a table of one integer key column: a page of rows as pg gives them
 * (`value` makes each key what pg's parser would), or the same page joined (`keys`).
 */
function keyTable(ids: number[], dataTypeID: number, value: (id: number) => unknown, column = 'id') {
  const queries: { text: string; values: unknown[] | undefined }[] = []
  return {
    queries,
    query: (text: string, values?: unknown[]) => {
      queries.push({ text, values })
      const [limit, after] = [Number(values![0]), values![1] === undefined ? -Infinity : Number(values![1])]
      const page = ids.filter((id) => id > after).slice(0, limit)
      if (text.startsWith('SELECT string_agg'))
        return Promise.resolve({ rows: [{ keys: page.length === 0 ? null : page.join(',') }], fields: [{ name: 'keys', dataTypeID: 25 }] })
      // As pg builds them: the column an own property, whatever its name.
      return Promise.resolve({
        rows: page.map((id) => Object.fromEntries([[column, value(id)]]) as Record<string, unknown>),
        fields: [{ name: column, dataTypeID }],
      })
    },
  }
}

describe('pgTable walking its integer key alone', () => {
  const ids = [-3, 2, 4, 6, 9007199254740, 9007199254742]

  it('reads each page after the first as one row of joined keys, and gives the rows pg gives (int8: digits)', async () => {
    const db = keyTable(ids, 20, String)
    const source = pgTable({ db, table: 't', columns: ['id'], pageSize: 2 })
    const rows = (await collect(source.getJobs(undefined))) as Record<string, unknown>[]
    expect(rows).toStrictEqual(ids.map((id) => ({ id: String(id) })))
    expect(rows.map(source.key)).toEqual(ids.map(BigInt))
    expect(db.queries.map((q) => q.text.slice(0, 17))).toEqual([
      'SELECT "id" FROM ',
      'SELECT string_agg',
      'SELECT string_agg',
      'SELECT string_agg',
    ])
    expect(db.queries.map((q) => q.values)).toEqual([[2], [2, '2'], [2, '6'], [2, '9007199254742']])
  })

  it('int4 keys stay numbers, as pg gives them; read a page at a time, the same rows', async () => {
    const db = keyTable(ids.slice(0, 4), 23, Number)
    const source = pgTable({ db, table: 't', columns: ['id'], pageSize: 3 })
    const jobs = source.getJobs(undefined)
    const pages = [await jobs.nextPage(), await jobs.nextPage(), await jobs.nextPage()]
    expect(pages).toStrictEqual([[{ id: -3 }, { id: 2 }, { id: 4 }], [{ id: 6 }], undefined])
    expect(db.queries[1].text.startsWith('SELECT string_agg')).toBe(true)
  })

  it('keeps to pages of rows where a joined page could differ: other columns, a text key, a parser of its own, a __proto__ column', async () => {
    const cases = [
      { db: keyTable(ids, 20, String, '__proto__'), options: { key: '__proto__', columns: ['__proto__'] } },
      { db: keyTable(ids, 20, String), options: { columns: ['id', 'email'] } },
      { db: keyTable(ids, 20, String), options: {} },
      { db: keyTable(ids, 25, String), options: { columns: ['id'] } },
      { db: keyTable(ids, 20, BigInt), options: { columns: ['id'] } },
      { db: keyTable(ids, 23, String), options: { columns: ['id'] } },
    ]
    for (const { db, options } of cases) {
      const source = pgTable({ db, table: 't', pageSize: 2, ...options })
      const rows = (await collect(source.getJobs(undefined))) as Record<string, unknown>[]
      expect(rows.map((row) => Object.keys(row).length)).toEqual(ids.map(() => 1))
      expect(db.queries.filter((q) => q.text.startsWith('SELECT string_agg'))).toEqual([])
    }
  })
})

describe('pgTable by a composite key', () => {
  /** pg's answer for int4 tenant ids and int8 ids (as strings). */
  const rows = (pairs: [number, string][]) => pairs.map(([tenant_id, id]) => ({ tenant_id, id, note: `${tenant_id}/${id}` }))

  it('pages by a row comparison, each job keyed by the JSON of its tuple, and resumes from such a key', async () => {
    const db = fakeDb([
      rows([
        [1, '5'],
        [1, '9007199254740993'],
      ]),
      rows([[2, '5']]),
      [],
    ])
    const source = pgTable({
      db,
      table: 'orders',
      key: ['tenant_id', 'id'],
      columns: ['note'],
      where: 'note <> $1',
      params: ['x'],
      pageSize: 2,
    })
    const jobs = (await collect(source.getJobs(undefined))) as Record<string, unknown>[]
    expect(jobs.map(source.key)).toEqual(['[1,"5"]', '[1,"9007199254740993"]', '[2,"5"]'])
    expect(db.queries).toEqual([
      { text: 'SELECT "note", "tenant_id", "id" FROM "orders" WHERE (note <> $1) ORDER BY "tenant_id", "id" LIMIT $2', values: ['x', 2] },
      {
        text: 'SELECT "note", "tenant_id", "id" FROM "orders" WHERE (note <> $1) AND ("tenant_id", "id") > ($3, $4) ORDER BY "tenant_id", "id" LIMIT $2',
        values: ['x', 2, 1, '9007199254740993'],
      },
      {
        text: 'SELECT "note", "tenant_id", "id" FROM "orders" WHERE (note <> $1) AND ("tenant_id", "id") > ($3, $4) ORDER BY "tenant_id", "id" LIMIT $2',
        values: ['x', 2, 2, '5'],
      },
    ])

    const resumed = fakeDb([[]])
    await collect(pgTable({ db: resumed, table: 'orders', key: ['tenant_id', 'id'], pageSize: 2 }).getJobs('[1,"9007199254740993"]'))
    expect(resumed.queries[0].values).toEqual([2, 1, '9007199254740993'])
  })

  it('a `last` that is not one of its keys (a run started with another key) is one line', async () => {
    const source = pgTable({ db: fakeDb([[]]), table: 'orders', key: ['tenant_id', 'id'] })
    await expect(collect(source.getJobs(42n))).rejects.toThrow(
      new JobSourceError(
        'pgTable: cannot resume after key 42: it is not a key of (tenant_id, id) (a JSON array of 2 values); was the run started with another key? Give it another --key, or --reset it',
      ),
    )
  })

  it('sharded, the query keeps the rows of the first column mod n, and so does the check of each row', async () => {
    // A row of another shard (tenant 2 in shard 1 of 2) that a query let through is dropped.
    const db = fakeDb([
      rows([
        [1, '5'],
        [2, '6'],
        [3, '7'],
      ]),
      [],
    ])
    const source = pgTable({ db, table: 'orders', key: ['tenant_id', 'id'], pageSize: 3 })
    const jobs = (await collect(source.getJobs(undefined, { position: 0, args: {}, shard: { index: 2, count: 2 } }))) as Record<
      string,
      unknown
    >[]
    expect(jobs.map(source.key)).toEqual(['[1,"5"]', '[3,"7"]'])
    expect(db.queries[0]).toEqual({
      text: 'SELECT * FROM "orders" WHERE (("tenant_id" % $2) + $2) % $2 = $3 ORDER BY "tenant_id", "id" LIMIT $1',
      values: [3, 2, 1],
    })
    expect(db.queries[1].values).toEqual([3, 3, '7', 2, 1])
  })

  it('a sharded walk over a first column that is not an integer says so in one line', async () => {
    const db = { query: () => Promise.reject(Object.assign(new Error('operator does not exist: text % integer'), { code: '42883' })) }
    const source = pgTable({ db, table: 'orders', key: ['region', 'id'] })
    await expect(collect(source.getJobs(undefined, { position: 0, args: {}, shard: { index: 1, count: 2 } }))).rejects.toThrow(
      new JobSourceError(
        'pgTable: a sharded run (--shard) needs an integer first key column (shard i of n takes the rows whose region mod n is i - 1): operator does not exist: text % integer',
      ),
    )
  })
})

/** A stand-in answering each statement by its start: EXPLAIN, count, the key's bounds. */
function answering(answers: { plan?: number; count?: string; lo?: unknown; hi?: unknown; histogramTop?: string; before?: number }) {
  const queries: string[] = []
  return {
    queries,
    query: (text: string) => {
      queries.push(text)
      if (text.includes(' <= $') && text.startsWith('EXPLAIN'))
        return Promise.resolve({ rows: [{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': answers.before } }] }] })
      if (text.includes('FROM pg_stats'))
        return Promise.resolve({ rows: answers.histogramTop === undefined ? [] : [{ top: answers.histogramTop }] })
      if (text.startsWith('EXPLAIN')) return Promise.resolve({ rows: [{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': answers.plan } }] }] })
      if (text.startsWith('SELECT count')) return Promise.resolve({ rows: [{ n: answers.count }] })
      if (text.startsWith('SELECT min')) return Promise.resolve({ rows: [{ lo: answers.lo, hi: answers.hi }] })
      if (text.startsWith('SELECT max')) return Promise.resolve({ rows: [{ hi: answers.hi }] })
      return Promise.resolve({ rows: [] })
    },
  }
}

describe('pgTable total() and progress()', () => {
  it('total() is an exact count on a small table, { estimate } from the planner on a large one (no count)', async () => {
    expect(await pgTable({ db: answering({ plan: 500, count: '480' }), table: 't' }).total()).toBe(480)
    const large = answering({ plan: 2_000_000 })
    expect(await pgTable({ db: large, table: 't' }).total()).toEqual({ estimate: 2_000_000 })
    expect(await pgTable({ db: large, table: 't', key: ['a', 'b'] }).total({ args: {}, shard: { index: 1, count: 3 } })).toEqual({
      estimate: 666_667,
    })
    expect(large.queries.some((text) => text.startsWith('SELECT count'))).toBe(false)
  })

  it("progress() without the planner's statistics is where `last` stands between the lowest and the highest key, for one key or a composite first column", async () => {
    const db = answering({ lo: '101', hi: '200' })
    const source = pgTable({ db, table: 't' })
    expect(await source.progress(150n)).toBe(0.5)
    expect(await source.progress(90)).toBe(0)
    expect(await source.progress('250')).toBe(1)
    const statistics = (queries: string[]): string[] => queries.map((text) => (text.includes('FROM pg_stats') ? 'statistics' : text))
    expect(statistics(db.queries)).toEqual(['SELECT min("id") AS lo, max("id") AS hi FROM "t"', 'statistics', 'statistics', 'statistics'])
    const tuples = answering({ lo: 1, hi: 4 })
    const composite = pgTable({ db: tuples, table: 't', key: ['tenant_id', 'id'], where: 'live' })
    expect(await composite.progress('[2,"9007199254740993"]')).toBe(0.5)
    expect(statistics(tuples.queries)).toEqual([
      'SELECT min("tenant_id") AS lo, max("tenant_id") AS hi FROM "t" WHERE (live)',
      'statistics',
    ])
  })

  it("progress() is the planner's rows at or before `last` over all its rows when its statistics cover the key space (uneven keys)", async () => {
    // Half the rows are ids 1 to 100, the other half far above: the key space says 0.0001 % at id 100, the planner 50 %.
    const db = answering({ lo: '1', hi: '1000000', histogramTop: '1000000', before: 500, plan: 1000 })
    const source = pgTable({ db, table: 't' })
    expect(await source.progress(100n)).toBe(0.5)
    expect(db.queries).toContain('EXPLAIN (FORMAT JSON) SELECT 1 FROM "t" WHERE "id" <= $1')
    // Statistics made before the rows at the top of the key space came: the key space it is.
    const stale = answering({ lo: '1', hi: '1000000', histogramTop: '500000', before: 500, plan: 1000 })
    expect(await pgTable({ db: stale, table: 't' }).progress(100n)).toBeCloseTo(0.0001, 6)
  })

  it('progress() is undefined where it cannot vouch: a text key, a key not of the table', async () => {
    const texts = pgTable({ db: answering({ lo: 'alice', hi: 'zoe' }), table: 't', key: 'name' })
    expect(await texts.progress('bob')).toBeUndefined()
    expect(await texts.progress(5)).toBeUndefined()
    const composite = pgTable({ db: answering({ lo: 1, hi: 4 }), table: 't', key: ['a', 'b'] })
    expect(await composite.progress('not a tuple')).toBeUndefined()
    expect(await composite.progress('["x",1]')).toBeUndefined()
  })

  it("a db function is called on first use with the run's arguments, once for getJobs, total and progress", async () => {
    const db = answering({ plan: 10, count: '10', lo: 1, hi: 10 })
    const calls: unknown[] = []
    const source = pgTable({ db: (args) => (calls.push({ ...args }), db), table: 't' })
    expect(calls).toEqual([])
    expect(await source.total({ args: { db: 'pg://a' } })).toBe(10)
    await collect(source.getJobs(undefined, { position: 0, args: { db: 'pg://a' } }))
    expect(await source.progress(5, { args: { db: 'pg://a' } })).toBe(0.5)
    expect(calls).toEqual([{ db: 'pg://a' }])
  })

  it('a missing argument stops the generator with one line naming it; total() and progress() leave it to the generator', async () => {
    const source = pgTable({ db: (args) => args.db, table: 't' })
    expect(await source.total({ args: {} })).toBeUndefined()
    expect(await source.progress(5, { args: {} })).toBeUndefined()
    await expect(collect(source.getJobs(undefined, { position: 0, args: {} }))).rejects.toThrow(
      'pgTable: no database: give the run argument db (db=postgres://user@host:5432/database, or db=env:DATABASE_URL)',
    )
  })

  describe('check(), before the first job', () => {
    /** A database whose answer to each kind of query is given: `SELECT 1`, a page, the unique-key question. */
    function checkedDb(answers: {
      connect?: Error
      page?: Error
      unique?: { kind: string; unique: boolean } | undefined
      dataTypeID?: number
    }) {
      const queries: { text: string; values: unknown[] | undefined }[] = []
      return {
        queries,
        query: (text: string, values?: unknown[]) => {
          queries.push({ text, values })
          if (text === 'SELECT 1') return answers.connect ? Promise.reject(answers.connect) : Promise.resolve({ rows: [{}] })
          if (text.startsWith('SELECT c.relkind')) return Promise.resolve({ rows: answers.unique === undefined ? [] : [answers.unique] })
          if (answers.page) return Promise.reject(answers.page)
          return Promise.resolve({ rows: [], fields: [{ name: 'id', dataTypeID: answers.dataTypeID ?? 20 }] })
        },
      }
    }
    const pgError = (message: string, hint?: string): Error => Object.assign(new Error(message), { code: '42P01', hint })

    it('reads a page of no rows of the table (the shard`s when sharded) and asks whether a unique index holds the key', async () => {
      const db = checkedDb({ unique: { kind: 'r', unique: true } })
      const source = pgTable({ db, table: 'app.users', key: ['tenant_id', 'id'], where: 'active' })
      await source.check({ args: {}, shard: { index: 2, count: 3 } })
      expect(db.queries).toEqual([
        { text: 'SELECT 1', values: undefined },
        {
          text: 'SELECT * FROM "app"."users" WHERE (active) AND (("tenant_id" % $2) + $2) % $2 = $3 ORDER BY "tenant_id", "id" LIMIT $1',
          values: [0, 3, 1],
        },
        { text: expect.stringContaining('to_regclass($1)') as unknown, values: ['"app"."users"', ['tenant_id', 'id']] },
      ])
    })

    it('learns from that page whether the key is int8: a key asked before any page (a retry pass) is the bigint already', async () => {
      const source = pgTable({ db: checkedDb({ unique: { kind: 'r', unique: true } }), table: 't' })
      await source.check({ args: {} })
      expect(source.key({ id: '9007199254740993' })).toBe(9007199254740993n)
    })

    it('no database, one it cannot reach, a table or column it cannot read: each one line', async () => {
      const none = pgTable({ db: (args) => args.db, table: 't' })
      await expect(none.check({ args: {} })).rejects.toThrow(
        new OptionError(
          'pgTable: no database: give the run argument db (db=postgres://user@host:5432/database, or db=env:DATABASE_URL)',
          'db',
        ),
      )
      const down = pgTable({ db: checkedDb({ connect: new Error('connect ECONNREFUSED 127.0.0.1:1') }), table: 't' })
      await expect(down.check({ args: {} })).rejects.toThrow(
        new JobSourceError('pgTable: cannot connect to the database: connect ECONNREFUSED 127.0.0.1:1'),
      )
      const typo = pgTable({
        db: checkedDb({ page: pgError('column "emial" does not exist', 'Perhaps you meant "users.email".') }),
        table: 'users',
      })
      await expect(typo.check({ args: {} })).rejects.toThrow(
        new JobSourceError('pgTable: cannot read table users: column "emial" does not exist (Perhaps you meant "users.email".)'),
      )
    })

    it('refuses a table whose key no unique index holds (rows sharing a key would be skipped); takes a view on trust', async () => {
      const loose = pgTable({ db: checkedDb({ unique: { kind: 'r', unique: false } }), table: 'users', key: 'domain' })
      await expect(loose.check({ args: {} })).rejects.toThrow(
        new JobSourceError(
          'pgTable: no unique index of table users holds only its key (domain): rows sharing a key would be skipped; key it by its primary key or other unique NOT NULL columns',
        ),
      )
      await pgTable({ db: checkedDb({ unique: { kind: 'v', unique: false } }), table: 'users_view' }).check({ args: {} })
      await pgTable({ db: checkedDb({ unique: { kind: 'p', unique: true } }), table: 'events' }).check({ args: {} })
    })
  })
})
