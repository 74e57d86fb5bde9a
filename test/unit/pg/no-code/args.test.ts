import { describe, expect, it } from 'vitest'
import { OptionError } from '../../../../src/errors.js'
import { USAGE, distance, parseSeconds, sqlArgs, tableArgs } from '../../../../src/pg/no-code/args.js'
import { thrownBy } from '../../support.js'

const DB = { db: 'postgres://h/db' }

/** The one line `fn` refuses its arguments with, checked to be an OptionError (exit 2) ending in the usage. */
function refusal(fn: () => unknown): string {
  const error = thrownBy(fn, OptionError)
  expect(error.exitCode).toBe(2)
  expect(error.message).not.toContain('\n')
  expect(error.message.endsWith(`; ${USAGE}`)).toBe(true)
  return error.message.slice(0, -USAGE.length - 2)
}

describe('the arguments of taskmaster-run/pg/table', () => {
  it('defaults: the key id, the key as the only column, no filter, pages of 1,000, no lag limit', () => {
    expect(tableArgs({ ...DB, table: 'users' })).toEqual({
      table: 'users',
      keys: ['id'],
      columns: ['id'],
      where: undefined,
      pageSize: 1000,
      maxLag: undefined,
      lagDb: undefined,
    })
  })

  it('a composite key and columns, comma-separated and trimmed; the key columns first, never twice', () => {
    expect(
      tableArgs({ ...DB, table: 'app.orders', keys: 'tenant_id, id', columns: 'total,id , note', where: 'total > 0', 'page-size': '500' }),
    ).toMatchObject({
      table: 'app.orders',
      keys: ['tenant_id', 'id'],
      columns: ['tenant_id', 'id', 'total', 'note'],
      where: 'total > 0',
      pageSize: 500,
    })
  })

  it('max-lag in seconds, milliseconds or minutes; lag-db beside it', () => {
    expect(tableArgs({ ...DB, table: 't', 'max-lag': '5s', 'lag-db': 'postgres://replica/db' })).toMatchObject({
      maxLag: 5,
      lagDb: 'postgres://replica/db',
    })
    expect(['5', '5s', '1.5s', '500ms', '2m', ' 3 s '].map(parseSeconds)).toEqual([5, 5, 1.5, 0.5, 120, 3])
    expect(['0', '-1', 'soon', '5h', '', '1e3'].map(parseSeconds)).toEqual(Array(6).fill(undefined))
  })

  it('each mistake is one line naming it, with the usage', () => {
    expect(refusal(() => tableArgs({ table: 'users' }))).toBe('taskmaster-run/pg/table: missing run argument db=')
    expect(refusal(() => tableArgs({ ...DB }))).toBe('taskmaster-run/pg/table: missing run argument table=')
    expect(refusal(() => tableArgs({ ...DB, table: ' ' }))).toBe('taskmaster-run/pg/table: missing run argument table=')
    expect(refusal(() => tableArgs({ ...DB, table: 't', keys: 'a,,b' }))).toBe('taskmaster-run/pg/table: keys=a,,b names an empty column')
    expect(refusal(() => tableArgs({ ...DB, table: 't', columns: 'a,a' }))).toBe(
      'taskmaster-run/pg/table: columns=a,a names a column twice',
    )
    expect(refusal(() => tableArgs({ ...DB, table: 't', 'page-size': '0' }))).toBe(
      "taskmaster-run/pg/table: page-size must be an integer from 1 to 100000, got '0'",
    )
    expect(refusal(() => tableArgs({ ...DB, table: 't', 'page-size': '1.5' }))).toContain('page-size must be an integer')
    expect(refusal(() => tableArgs({ ...DB, table: 't', 'max-lag': 'soon' }))).toBe(
      "taskmaster-run/pg/table: max-lag must be a number of seconds over 0 (5, 5s, 500ms, 2m), got 'soon'",
    )
    expect(refusal(() => tableArgs({ ...DB, table: 't', 'lag-db': 'postgres://r/db' }))).toBe(
      'taskmaster-run/pg/table: lag-db= goes with max-lag=',
    )
  })

  it('an empty where= is refused, never taken for no filter (where="$FILTER" with the variable unset)', () => {
    for (const where of ['', '  '])
      expect(refusal(() => tableArgs({ ...DB, table: 't', where }))).toBe(
        'taskmaster-run/pg/table: where= is empty: give a condition, or leave where= out to walk the whole table',
      )
  })

  it('a misspelt argument is refused (a lost where= would widen the backfill to the whole table); names of their own pass', () => {
    expect(refusal(() => tableArgs({ ...DB, table: 't', wher: 'x' }))).toBe(
      "taskmaster-run/pg/table: unknown run argument 'wher' (did you mean where=?)",
    )
    // key= would be masked as a secret wherever the run's arguments are shown: the argument is keys=.
    expect(refusal(() => tableArgs({ ...DB, table: 't', key: 'id' }))).toBe(
      "taskmaster-run/pg/table: unknown run argument 'key' (did you mean keys=?)",
    )
    expect(refusal(() => tableArgs({ ...DB, table: 't', Where: 'x' }))).toContain("'Where' (did you mean where=?)")
    expect(refusal(() => tableArgs({ ...DB, table: 't', maxlag: '5' }))).toContain("'maxlag' (did you mean max-lag=?)")
    expect(refusal(() => tableArgs({ ...DB, table: 't', tabel: 'x' }))).toContain("'tabel' (did you mean table=?)")
    // A handler of their own may have arguments of its own; a retry pass adds retry-log.
    expect(tableArgs({ ...DB, table: 't', apiUrl: 'https://x', id: '5', 'retry-log': 'f' }).table).toBe('t')
  })

  it('the edit distance counts a swap of neighbours as one', () => {
    expect([
      distance('where', 'where'),
      distance('wher', 'where'),
      distance('wehre', 'where'),
      distance('db', 'id'),
      distance('', 'ab'),
    ]).toEqual([0, 1, 1, 2, 2])
  })

  it('the usage names every argument', () => {
    for (const name of ['db', 'table', 'keys', 'columns', 'where', 'page-size', 'max-lag', 'lag-db', 'sql'])
      expect(USAGE).toContain(` ${name}=`)
  })
})

describe('the arguments of taskmaster-run/pg/sql', () => {
  it('the statement, the table and its key columns', () => {
    expect(sqlArgs({ ...DB, table: 'orders', keys: 'tenant_id,id', sql: 'UPDATE orders SET x = 1 WHERE ...' })).toEqual({
      table: 'orders',
      keys: ['tenant_id', 'id'],
      statement: 'UPDATE orders SET x = 1 WHERE ...',
      once: false,
    })
    expect(sqlArgs({ ...DB, table: 'users', sql: 'SELECT 1' }).keys).toEqual(['id'])
  })

  it('once=true (or TRUE, or false): exactly once or not; anything else, and a misspelt once, in one line', () => {
    const args = { ...DB, table: 'users', sql: 'SELECT 1' }
    expect(sqlArgs({ ...args, once: 'true' }).once).toBe(true)
    expect(sqlArgs({ ...args, once: ' TRUE ' }).once).toBe(true)
    expect(sqlArgs({ ...args, once: 'false' }).once).toBe(false)
    expect(refusal(() => sqlArgs({ ...args, once: 'yes' }))).toBe("taskmaster-run/pg/sql: once must be true or false, got 'yes'")
    expect(refusal(() => sqlArgs({ ...args, once: '' }))).toBe("taskmaster-run/pg/sql: once must be true or false, got ''")
    expect(refusal(() => sqlArgs({ ...args, onse: 'true' }))).toContain("'onse' (did you mean once=?)")
    // The master's module takes it too: both modules get every argument of the run.
    expect(() => tableArgs({ ...args, once: 'true' })).not.toThrow()
  })

  it('refuses a missing statement, table or database in one line', () => {
    expect(refusal(() => sqlArgs({ ...DB, table: 'users' }))).toBe('taskmaster-run/pg/sql: missing run argument sql=')
    expect(refusal(() => sqlArgs({ ...DB, sql: 'x' }))).toBe('taskmaster-run/pg/sql: missing run argument table=')
    expect(refusal(() => sqlArgs({ table: 't', sql: 'x' }))).toBe('taskmaster-run/pg/sql: missing run argument db=')
    expect(refusal(() => sqlArgs({ ...DB, table: 't', sql: 'x', sq1: 'y' }))).toContain("'sq1' (did you mean sql=?)")
  })
})
