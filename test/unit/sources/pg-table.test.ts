import { describe, expect, it } from 'vitest'
import { OptionError } from '../../../src/errors.js'
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
    const source = pgTable({ db, table: 'app.my"users', key: 'user id', columns: ['email'], where: 'active = $1', params: [true], pageSize: 1 })
    const rows = await collect(source.getJobs(undefined))
    expect(rows).toEqual([{ 'user id': '9007199254740993' }])
    expect(source.key(rows[0] as Record<string, unknown>)).toBe(9007199254740993n)
    expect(db.queries).toEqual([
      { text: 'SELECT "email", "user id" FROM "app"."my""users" WHERE (active = $1) ORDER BY "user id" LIMIT $2', values: [true, 1] },
      { text: 'SELECT "email", "user id" FROM "app"."my""users" WHERE (active = $1) AND "user id" > $3 ORDER BY "user id" LIMIT $2', values: [true, 1, '9007199254740993'] },
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
    expect(() => pgTable({ db: {} as never, table: 't' })).toThrow(new OptionError('pgTable: db must be a pg Client or Pool (anything with query(text, values))', 'db'))
    expect(() => pgTable({ db: fakeDb([]), table: '' })).toThrow(new OptionError('pgTable: table must be a non-empty string, got ', 'table'))
  })
})
