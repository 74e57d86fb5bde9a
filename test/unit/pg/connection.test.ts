import { describe, expect, it } from 'vitest'
import { OptionError } from '../../../src/errors.js'
import { PgConnection, checkDb, makePool } from '../../../src/pg/connection.js'
import type { OwnPool, PgQueryable } from '../../../src/pg/connection.js'

const client = (): PgQueryable => ({ query: () => Promise.resolve({ rows: [] }) })

/** A pool maker that records what it made and what was ended. */
function pools() {
  const made: string[] = []
  let ended = 0
  const maker = (url: string): Promise<OwnPool> => {
    made.push(url)
    return Promise.resolve({ ...client(), end: () => Promise.resolve(void ended++) })
  }
  return { made, maker, ended: () => ended }
}

describe("pgTable's db", () => {
  it('a Client or Pool is used as it is, and never ended', async () => {
    const db = client()
    const connection = new PgConnection(db)
    expect(await connection.get({ db: 'ignored' })).toBe(db)
    await connection.close()
  })

  it('a function of the args is called on first use, once, and a Client it returns is not ended', async () => {
    const db = client()
    const seen: unknown[] = []
    const connection = new PgConnection((args) => (seen.push({ ...args }), db))
    expect(seen).toEqual([])
    expect(await Promise.all([connection.get({ db: 'x' }), connection.get({ db: 'x' })])).toEqual([db, db])
    expect(seen).toEqual([{ db: 'x' }])
  })

  it('a connection string becomes a pool of its own, made once and ended by close; used again, a new one', async () => {
    const p = pools()
    const connection = new PgConnection((args) => args.db, p.maker)
    const [a, b] = await Promise.all([connection.get({ db: 'postgres://h/db' }), connection.get({ db: 'postgres://h/db' })])
    expect(a).toBe(b)
    expect(p.made).toEqual(['postgres://h/db'])
    await connection.close()
    expect(p.ended()).toBe(1)
    await connection.close()
    expect(p.ended()).toBe(1)
    await connection.get({ db: 'postgres://h/db' })
    expect(p.made).toHaveLength(2)
  })

  it('a missing argument is one line naming it', async () => {
    const connection = new PgConnection((args) => args.db, pools().maker)
    await expect(connection.get({ other: '1' })).rejects.toThrow(
      new OptionError(
        'pgTable: no database: give the run argument db (db=postgres://user@host:5432/database, or db=env:DATABASE_URL)',
        'db',
      ),
    )
    await expect(new PgConnection((args) => args.lag_db ?? args.main_db).get({})).rejects.toThrow(
      'pgTable: no database: give one of the run arguments lag_db, main_db (main_db=postgres://user@host:5432/database, or main_db=env:DATABASE_URL)',
    )
    await expect(new PgConnection((args) => args.db).get({ db: '' })).rejects.toThrow('pgTable: no database: give the run argument db (')
    await expect(new PgConnection(() => undefined).get({})).rejects.toThrow(
      'pgTable: db(args) gave no database; give the connection string as a run argument (tm-master jobs.ts db=postgres://user@host:5432/database)',
    )
  })

  it('a failed first use is tried again on the next (the error is not kept)', async () => {
    const p = pools()
    const connection = new PgConnection((args) => args.db, p.maker)
    await expect(connection.get({})).rejects.toThrow(OptionError)
    await connection.get({ db: 'postgres://h/db' })
    expect(p.made).toEqual(['postgres://h/db'])
  })

  it('refuses what cannot be a database, naming the option', async () => {
    await expect(new PgConnection(() => 5 as never).get({})).rejects.toThrow(
      new OptionError('pgTable: db(args) returned a number; it must return a connection string or a pg Client or Pool', 'db'),
    )
    expect(() => checkDb({})).toThrow(
      /^pgTable: db must be a pg Client or Pool \(anything with query\(text, values\)\), or a function of the run's arguments returning one or a connection string \(db: \(args\) => args\.db\), got an object$/,
    )
    expect(() => checkDb(undefined)).toThrow(/got undefined$/)
    expect(() => checkDb(client())).not.toThrow()
    expect(() => checkDb(() => 'postgres://')).not.toThrow()
  })

  it('without pg installed, a connection string says how to install it', async () => {
    const missing = (): Promise<never> => Promise.reject(new Error("Cannot find package 'pg'"))
    await expect(makePool('postgres://h/db', missing)).rejects.toThrow(
      new OptionError(
        'pgTable: a connection string needs the pg package (an optional peer dependency of taskmaster-run): npm install pg',
        'db',
      ),
    )
  })

  it('with pg, a pool of one connection that lets the process exit when idle', async () => {
    const made: unknown[] = []
    class Pool {
      constructor(config: unknown) {
        made.push(config)
      }
      query = client().query
      end = (): Promise<void> => Promise.resolve()
      on = (): void => {}
    }
    await makePool('postgres://h/db', () => Promise.resolve({ default: { Pool } }))
    expect(made).toEqual([{ connectionString: 'postgres://h/db', max: 1, allowExitOnIdle: true }])
  })
})
