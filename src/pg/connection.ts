/**
 * pgTable's `db`: the user's pg Client or Pool, or a function of the run's arguments that
 * gives one or a connection string (`db: (args) => args.db`), called on first use: a jobs
 * module is loaded before the run's arguments are known. From a connection string it makes
 * a pool of one connection itself, importing pg (an optional peer dependency) only then.
 */
import { OptionError } from '../errors.js'
import { redactText } from '../redact.js'
import { describeThrown, oneLine, typeName } from '../user-code.js'

/** What pgTable needs of a pg Client or Pool. */
export interface PgQueryable {
  query: (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[]; fields?: { name: string; dataTypeID: number }[] }>
}

/** The run's `name=value` arguments. */
export type RunArgs = Readonly<Record<string, string>>

/** A database, or how to find it in the run's arguments (a connection string, a Client or a Pool). */
export type PgDb = PgQueryable | ((args: RunArgs) => string | PgQueryable | undefined | Promise<string | PgQueryable | undefined>)

/** A pool pgTable made, which it ends. */
export interface OwnPool extends PgQueryable {
  end: () => Promise<void>
}

/** Makes a pool from a connection string. */
export type PoolMaker = (connectionString: string) => Promise<OwnPool>

export const isQueryable = (value: unknown): value is PgQueryable => typeof (value as PgQueryable | null | undefined)?.query === 'function'

/** Checks `db` as given to pgTable. */
export function checkDb(db: unknown): asserts db is PgDb {
  if (typeof db === 'function' || isQueryable(db)) return
  const got = db === undefined ? 'undefined' : typeName(db)
  throw new OptionError(
    `pgTable: db must be a pg Client or Pool (anything with query(text, values)), or a function of the run's arguments returning one or a connection string (db: (args) => args.db), got ${got}`,
    'db',
  )
}

/** What PostgreSQL (or pg) said, in one line: the message and its hint (`Perhaps you meant ...`). */
export function pgMessage(error: unknown): string {
  const hint = (error as { hint?: unknown } | null)?.hint
  return oneLine(`${describeThrown(error)}${typeof hint === 'string' && hint !== '' ? ` (${hint})` : ''}`)
}

/** What pg exports that the package uses. */
export interface PgModule {
  Pool: PoolClass
  Client: ClientClass
}

/**
 * The export `name` of pg, imported here: an optional peer dependency, so a missing one is
 * one line saying to install it (`who` is what needs it).
 */
export async function pgExport<K extends keyof PgModule>(
  name: K,
  who = 'pgTable',
  load: (name: string) => Promise<unknown> = (name) => import(name),
): Promise<PgModule[K]> {
  let pg: Partial<PgModule> & { default?: Partial<PgModule> }
  try {
    pg = (await load('pg')) as typeof pg
  } catch {
    throw new OptionError(
      `${who}: a connection string needs the pg package (an optional peer dependency of taskmaster-run): npm install pg`,
      'db',
    )
  }
  const found = pg[name] ?? pg.default?.[name]
  if (found === undefined) throw new OptionError(`${who}: the installed pg package has no ${name} export`, 'db')
  return found
}

/**
 * A pool of one connection (the master reads one page at a time) from pg, imported here:
 * pg is an optional peer dependency. allowExitOnIdle: an idle connection never keeps the
 * master alive; an idle connection the server drops is an error of the next query, not
 * of the process.
 */
export async function makePool(
  connectionString: string,
  load: (name: string) => Promise<unknown> = (name) => import(name),
): Promise<OwnPool> {
  const Pool = await pgExport('Pool', 'pgTable', load)
  const pool = new Pool({ connectionString, max: 1, allowExitOnIdle: true })
  pool.on('error', () => {})
  return pool
}

/** pg's Pool, as far as the package uses it. */
export type PoolClass = new (config: {
  connectionString: string
  max: number
  allowExitOnIdle?: boolean
  statement_timeout?: number
}) => OwnPool & { on: (event: 'error', listener: () => void) => unknown }

/** A named statement of pg (`{ name, text, values }`): parsed once a connection. */
export interface NamedQuery {
  name: string
  text: string
  values: unknown[]
}

/** A pg Client (or a Pool), as far as the package uses it: named statements included. */
export interface PgClient {
  query: ((config: NamedQuery) => ReturnType<PgQueryable['query']>) & PgQueryable['query']
}

/** pg's Client. */
export type ClientClass = new (config: { connectionString: string }) => PgClient & {
  connect: () => Promise<unknown>
  end: () => Promise<void>
  on: (event: 'error', listener: () => void) => unknown
}

/**
 * The run's arguments as `db(args)` sees them, noting each name it read: when it finds no
 * database, the message names the argument to give.
 */
function watched(args: RunArgs, read: Set<string>): RunArgs {
  return new Proxy(args, {
    get(target, name, receiver) {
      if (typeof name === 'string') read.add(name)
      return Reflect.get(target, name, receiver) as unknown
    },
  })
}

function missing(args: RunArgs, read: Set<string>, who: string): OptionError {
  const absent = [...read].filter((name) => !args[name])
  if (absent.length === 0)
    return new OptionError(
      `${who}: db(args) gave no database; give the connection string as a run argument (tm-master jobs.ts db=postgres://user@host:5432/database)`,
      'db',
    )
  const which = absent.length === 1 ? `the run argument ${absent[0]}` : `one of the run arguments ${absent.join(', ')}`
  return new OptionError(
    `${who}: no database: give ${which} (${absent.at(-1)}=postgres://user@host:5432/database, or ${absent.at(-1)}=env:DATABASE_URL)`,
    'db',
  )
}

/**
 * The database `db` gives for `args`: the Client or Pool itself, or what the function of
 * the arguments returns (a connection string, or a Client or Pool). Nothing found is one
 * line naming the argument to give; `who` names the caller.
 */
export async function findDb(db: PgDb, args: RunArgs, who: string): Promise<string | PgQueryable> {
  if (typeof db !== 'function') return db
  const read = new Set<string>()
  const found = await db(watched(args, read))
  if (isQueryable(found)) return found
  if (found === undefined || found === null || found === '') throw missing(args, read, who)
  if (typeof found !== 'string')
    throw new OptionError(`${who}: db(args) returned ${typeName(found)}; it must return a connection string or a pg Client or Pool`, 'db')
  return found
}

/** pgTable's database: opened on first use, once; a pool it made is ended by {@link close}. */
export class PgConnection {
  readonly #db: PgDb
  readonly #makePool: PoolMaker
  #opening: Promise<PgQueryable> | undefined
  #own: OwnPool | undefined
  /** The connection string of the pool made from one, its password masked, for messages. */
  #shown: string | undefined

  constructor(db: PgDb, pool: PoolMaker = makePool) {
    this.#db = db
    this.#makePool = pool
  }

  /** The database, made from `args` on first use (a failure is tried again next time). */
  get(args: RunArgs = {}): Promise<PgQueryable> {
    if (this.#opening !== undefined) return this.#opening
    const opening = this.#open(args)
    this.#opening = opening
    opening.catch(() => {
      if (this.#opening === opening) this.#opening = undefined
    })
    return opening
  }

  async #open(args: RunArgs): Promise<PgQueryable> {
    const found = await findDb(this.#db, args, 'pgTable')
    if (typeof found !== 'string') return found
    this.#shown = redactText(found)
    this.#own = await this.#makePool(found)
    return this.#own
  }

  /** The database for people: the connection string it was made from (password masked), else `the database`. */
  get shown(): string {
    return this.#shown === undefined ? 'the database' : `the database '${this.#shown}'`
  }

  /** Ends the pool made from a connection string, if any (the user's own Client or Pool stays open); the next use makes a new one. */
  async close(): Promise<void> {
    const own = this.#own
    if (own === undefined) return
    this.#own = undefined
    this.#opening = undefined
    await own.end()
  }
}
