/**
 * The run's arguments of the backfill with no code (`taskmaster-run/pg/table` and
 * `taskmaster-run/pg/sql`), read and checked in one place: both modules get every
 * argument of the run (the master's command line), so each reads the same names the same way.
 * Pure: no database.
 */
import { OptionError } from '../../errors.js'

/** Every argument, in the order the usage line lists them. */
export const ARGUMENTS = [
  ['db', '<connection string>', 'the database (required; db=env:DATABASE_URL keeps the password off the command line)'],
  ['table', '<table>', 'the table to walk, schema-qualified or not (required)'],
  ['keys', '<column>[,<column>...]', 'its unique key, one column or several (default id)'],
  ['columns', '<column>[,<column>...]', "each job's columns besides the key (default: the key only)"],
  ['where', '<SQL condition>', 'only the rows matching it'],
  ['page-size', '<rows>', 'rows the master reads a query (default 1000)'],
  ['max-lag', '<seconds>', 'hold dispatch while replication lags more (5, 5s, 500ms, 2m)'],
  ['lag-db', '<connection string>', 'the server whose lag to read (default: db)'],
  ['sql', '<statement>', 'the statement run a batch at a time, $1 the batch keys as an array (pg/sql)'],
  ['once', 'true|false', "each row written exactly once: its claim committed with the statement's writes (pg/sql; default false)"],
] as const

/** What a retry pass adds to the run's arguments (`RETRY_LOG_ARG` of src/master/state/store-common.ts). */
export const PASS_ARGUMENTS = ['retry-log'] as const

const KNOWN = new Set<string>([...ARGUMENTS.map(([name]) => name), ...PASS_ARGUMENTS])

/** The usage of the two modules, in one line: every argument with its form. */
export const USAGE = `arguments: ${ARGUMENTS.map(([name, form]) => `${name}=${form}`).join(' ')} (see docs/postgres.md)`

/** Rows a page by default, and the most. */
export const PAGE_SIZE = { default: 1000, max: 100_000 } as const

/** What `taskmaster-run/pg/table` is given. */
export interface TableArgs {
  /** The table, as given (`app.users`). */
  table: string
  /** The key columns, in order. */
  keys: string[]
  /** The columns of each job: the key's, then those asked for. */
  columns: string[]
  /** The filter, SQL as written; undefined for none. */
  where: string | undefined
  pageSize: number
  /** Seconds of replication lag beyond which dispatch is held; undefined: not watched. */
  maxLag: number | undefined
  /** The server whose lag is read; undefined: `db`. */
  lagDb: string | undefined
}

/** What `taskmaster-run/pg/sql` is given. */
export interface SqlArgs {
  /** The table (for its key columns' types). */
  table: string
  keys: string[]
  /** The statement run on each batch. */
  statement: string
  /** Exactly once (`once=true`): each batch's keys claimed in the statement's transaction (src/pg/exactly-once.ts). */
  once: boolean
}

type Args = Readonly<Record<string, string>>

function refuse(module: string, message: string): OptionError {
  return new OptionError(`${module}: ${message}; ${USAGE}`, 'args')
}

/** The edit distance of `a` and `b`: insertions, deletions, substitutions and swaps of two neighbours. */
export function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  return d[a.length][b.length]
}

/** Whether `name` looks like `known` misspelt: one edit away, two for a name longer than four letters. */
const nearMiss = (name: string, known: string): boolean => distance(name.toLowerCase(), known) <= (known.length > 4 ? 2 : 1)

/**
 * Refuses a name that looks like one of the modules' own misspelt (`wher=`, `key=`): a
 * filter lost to a typo would widen a backfill to the whole table. Other names are the
 * arguments of the user's own module beside these (a handler of their own), and pass.
 */
function checkNames(module: string, args: Args): void {
  for (const name of Object.keys(args)) {
    if (KNOWN.has(name)) continue
    const meant = ARGUMENTS.find(([known]) => nearMiss(name, known))
    if (meant !== undefined) throw refuse(module, `unknown run argument '${name}' (did you mean ${meant[0]}=?)`)
  }
}

function required(module: string, args: Args, name: string): string {
  const value = args[name]
  if (value === undefined || value.trim() === '') throw refuse(module, `missing run argument ${name}=`)
  return value
}

/** `a,b` as column names, each trimmed; a name may hold anything but a comma (it is quoted). */
export function columnList(module: string, name: string, value: string): string[] {
  const list = value.split(',').map((column) => column.trim())
  if (list.some((column) => column === '')) throw refuse(module, `${name}=${value} names an empty column`)
  if (new Set(list).size !== list.length) throw refuse(module, `${name}=${value} names a column twice`)
  return list
}

const UNITS: Record<string, number> = { '': 1, s: 1, ms: 0.001, m: 60 }

/** A number of seconds: `5`, `5s`, `1.5s`, `500ms`, `2m`. Undefined when it is none. */
export function parseSeconds(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text)
  if (match === null) return undefined
  const seconds = Number(match[1]) * UNITS[match[2] ?? '']
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined
}

/** The key columns (`keys=`, default `id`). */
function keysOf(module: string, args: Args): string[] {
  return args.keys === undefined ? ['id'] : columnList(module, 'keys', args.keys)
}

/** Reads and checks what `taskmaster-run/pg/table` is given; a mistake is an {@link OptionError} of one line with the usage. */
export function tableArgs(args: Args, module = 'taskmaster-run/pg/table'): TableArgs {
  checkNames(module, args)
  required(module, args, 'db')
  const table = required(module, args, 'table')
  const keys = keysOf(module, args)
  const extra = args.columns === undefined ? [] : columnList(module, 'columns', args.columns)
  const columns = [...keys, ...extra.filter((column) => !keys.includes(column))]
  // An empty filter (where="$FILTER" with the variable unset) would widen the backfill to the whole table.
  if (args.where !== undefined && args.where.trim() === '')
    throw refuse(module, 'where= is empty: give a condition, or leave where= out to walk the whole table')
  const where = args.where
  let pageSize: number = PAGE_SIZE.default
  if (args['page-size'] !== undefined) {
    pageSize = Number(args['page-size'])
    if (!/^\s*\d+\s*$/.test(args['page-size']) || pageSize < 1 || pageSize > PAGE_SIZE.max)
      throw refuse(module, `page-size must be an integer from 1 to ${PAGE_SIZE.max}, got '${args['page-size']}'`)
  }
  let maxLag: number | undefined
  if (args['max-lag'] !== undefined) {
    maxLag = parseSeconds(args['max-lag'])
    if (maxLag === undefined)
      throw refuse(module, `max-lag must be a number of seconds over 0 (5, 5s, 500ms, 2m), got '${args['max-lag']}'`)
  }
  if (args['lag-db'] !== undefined && maxLag === undefined) throw refuse(module, 'lag-db= goes with max-lag=')
  return { table, keys, columns, where, pageSize, maxLag, lagDb: args['lag-db'] }
}

/** Reads and checks what `taskmaster-run/pg/sql` is given (see {@link tableArgs}). */
export function sqlArgs(args: Args, module = 'taskmaster-run/pg/sql'): SqlArgs {
  checkNames(module, args)
  required(module, args, 'db')
  const table = required(module, args, 'table')
  const statement = required(module, args, 'sql')
  const once = args.once?.trim().toLowerCase() ?? 'false'
  if (once !== 'true' && once !== 'false') throw refuse(module, `once must be true or false, got '${args.once}'`)
  return { table, keys: keysOf(module, args), statement, once: once === 'true' }
}
