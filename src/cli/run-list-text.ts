import type { RunListing, RunListings } from '../master/state/run-list.js'
import { formatCount, formatTotal, tableLines } from './format.js'
import type { Column } from './format.js'
import { printable, printableJson } from './log-format.js'

// `tm-ctl list` for people: a table of the runs of a store, and the JSON of the same.

/** What is shown for a figure that is not known (an older version's state, a damaged run). */
const UNKNOWN = '-'

/** An ISO 8601 time as `2025-01-02 10:00:00` (UTC, to the second); a text that is not a time as it is. */
export function listTime(iso: string | null): string {
  if (iso === null) return UNKNOWN
  const t = Date.parse(iso)
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 19).replace('T', ' ')
}

/** `1,234 / 5,000`, `1,234 / ~5,000` for an estimate, `1,234 / -` without a total. */
export function doneOfTotal(run: Pick<RunListing, 'done' | 'total' | 'totalEstimated'>): string {
  const done = run.done === null ? UNKNOWN : formatCount(run.done)
  return `${done} / ${run.total === null ? UNKNOWN : formatTotal(run.total, run.totalEstimated)}`
}

/** The arguments as `name=value` pairs (already masked), `-` when unknown. */
export function argsText(args: Record<string, string> | null): string {
  if (args === null) return UNKNOWN
  return Object.entries(args)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')
}

/** Columns of the table: heading, cell of a run (made printable before the columns are aligned), right-aligned. */
const COLUMNS: readonly Column<RunListing>[] = [
  { head: 'key', cell: (r) => printable(r.key), right: false },
  { head: 'state', cell: (r) => r.state, right: false },
  { head: 'done / total', cell: doneOfTotal, right: true },
  { head: 'failed', cell: (r) => (r.failed === null ? UNKNOWN : formatCount(r.failed)), right: true },
  { head: 'started (UTC)', cell: (r) => printable(listTime(r.startedAt)), right: false },
  { head: 'updated (UTC)', cell: (r) => printable(listTime(r.updatedAt)), right: false },
  { head: 'arguments', cell: (r) => printable(argsText(r.args)), right: false },
]

/**
 * The runs as lines for people: a heading and a row a run, columns aligned (every cell made
 * printable first, so a key or an argument holding control characters neither breaks a line
 * nor the columns), then a line for each damaged run saying why; one line when there is none.
 */
export function runListLines({ where, runs }: RunListings): string[] {
  if (runs.length === 0) return [`No runs in ${printable(where)}`]
  const damaged = runs.filter((r) => r.problem !== null).map((r) => `${printable(r.key)}: ${printable(r.problem ?? '')}`)
  return [...tableLines(COLUMNS, runs), ...(damaged.length === 0 ? [] : ['', ...damaged])]
}

/** `tm-ctl list`'s output: the table, or with `json` the runs as a JSON array of {@link RunListing}. */
export function runListText(list: RunListings, json: boolean): string {
  if (json) return printableJson(list.runs, 2) + '\n'
  return runListLines(list)
    .map((line) => line + '\n')
    .join('')
}
