/**
 * `taskmaster-run/pg/table`: the jobs module of the backfill with no code. A table walked
 * by its key, made from the run's arguments (`db=`, `table=`, `keys=`, `columns=`,
 * `where=`, `page-size=`, see args.ts) through {@link pgTable}, so it resumes, shards,
 * counts and tells its progress as any pgTable source does. Its check (before the master
 * listens) reads a page of no rows and, when the run has a `sql=` for
 * `taskmaster-run/pg/sql`, checks that statement too: a typo stops the master before any
 * job, whatever slaves would run it. `max-lag=` makes it ask for a throttle (lag.ts).
 *
 *   tm-master taskmaster-run/pg/table db=env:DATABASE_URL table=users --key users-domain \
 *     --spawn 2 --handler taskmaster-run/pg/sql sql="UPDATE users SET ... WHERE id = ANY(\$1)" --batch 1000
 */
import { JobSourceError } from '../../errors.js'
import type { GeneratorContext, JobKey, NamedThrottle, SourceContext } from '../../options.js'
import { pgTable } from '../index.js'
import type { PgTableSource } from '../index.js'
import { sqlArgs, tableArgs } from './args.js'
import type { TableArgs } from './args.js'
import { lagThrottle } from './lag.js'
import { checkStatementAt } from './statement.js'

type Row = Record<string, unknown>

/** The source `taskmaster-run/pg/table` exports: pgTable's members, each made from the run's arguments. */
export interface TableJobs {
  getJobs: (last: JobKey | undefined, ctx?: GeneratorContext) => AsyncGenerator<Row>
  key: (row: Row) => JobKey
  total: PgTableSource['total']
  progress: PgTableSource['progress']
  check: (ctx: SourceContext) => Promise<void>
  throttle: (ctx: SourceContext) => NamedThrottle | undefined
}

/** The pgTable options of the arguments `spec`: the database from `db=`, read when the run starts. */
function tableOf(spec: TableArgs): PgTableSource {
  return pgTable({
    db: (args) => args.db,
    table: spec.table,
    key: spec.keys.length === 1 ? spec.keys[0] : spec.keys,
    columns: spec.columns,
    where: spec.where,
    pageSize: spec.pageSize,
  })
}

/**
 * A source over the table the run's arguments name. The module is loaded before they are
 * known: the pgTable source is made on the first call that has them (the check, first of
 * all), and made again for other arguments (a script's second run).
 */
export function tableJobs(): TableJobs {
  let current: { id: string; spec: TableArgs; source: PgTableSource } | undefined
  const of = (args: Readonly<Record<string, string>> = {}): { spec: TableArgs; source: PgTableSource } => {
    const id = JSON.stringify(args)
    if (current?.id !== id) {
      const spec = tableArgs(args)
      current = { id, spec, source: tableOf(spec) }
    }
    return current
  }
  return {
    getJobs: (last, ctx) => of(ctx?.args).source.getJobs(last, ctx),
    key: (row) => {
      if (current === undefined) throw new JobSourceError('taskmaster-run/pg/table: a key was asked before the run started')
      return current.source.key(row)
    },
    total: (ctx) => of(ctx?.args).source.total(ctx),
    progress: (last, ctx) => of(ctx?.args).source.progress(last, ctx),
    check: async (ctx) => {
      const { spec, source } = of(ctx.args)
      await source.check(ctx)
      if (ctx.args.sql === undefined) return
      const { statement } = sqlArgs(ctx.args)
      await checkStatementAt(ctx.args.db, spec.table, spec.keys, statement)
    },
    throttle: (ctx) => {
      const { spec } = of(ctx.args)
      return spec.maxLag === undefined ? undefined : lagThrottle(spec.maxLag, spec.lagDb ?? ctx.args.db)
    },
  }
}

export default tableJobs()
