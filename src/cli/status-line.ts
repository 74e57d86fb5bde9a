import type { ControlsFigures } from '../master/engine/controls.js'
import type { MasterFigures, RunStatus, SlaveFigures } from '../master/engine/status.js'
import { formatBytes, formatCount, formatDuration, formatJobRate, formatPercent, formatTotal, tableLines } from './format.js'
import type { Column } from './format.js'

/** Between two fields of the status line. */
const SEPARATOR = ' | '

/** Widest progress bar, in cells; narrower terminals get a shorter one. */
const BAR_CELLS = 20

/** A bar of `cells` cells, `percent` of them full. */
export function progressBar(percent: number, cells: number): string {
  const full = Math.max(0, Math.min(cells, Math.floor((percent / 100) * cells)))
  return '█'.repeat(full) + '░'.repeat(cells - full)
}

/** A field of the status line: its text, or its texts from the longest to the shortest. */
export type Field = string | readonly string[]

/**
 * The fields of the status line, most important first: progress (bar, percent and ETA,
 * when the run has a total), jobs done, rate, elapsed, failed, how far the run is safe
 * (the watermark), then what is moving. `barCells` 0 leaves the bar out (plain lines).
 */
export function statusFields(status: RunStatus, barCells: number): Field[] {
  const r = status.run
  const fields: Field[] = []
  // Why no job goes out comes first: it is what a person looking at a still run needs.
  const c = r.controls
  if (c.paused) fields.push('paused')
  if (c.throttled !== null) fields.push([`throttled: ${c.throttled}`, 'throttled'])
  if (r.total !== null && r.percent !== null) {
    const eta = `ETA ${r.etaMs === null ? '-' : formatDuration(r.etaMs)}`
    fields.push(`${barCells > 0 ? progressBar(r.percent, barCells) + ' ' : ''}${formatPercent(r.percent)} ${eta}`)
  }
  if (r.total === null) fields.push(`done ${formatCount(r.done)}`)
  else {
    // An estimate is shown as one: `done 1,000 of ~2,000`. (A master older than the field has none.)
    const total = formatTotal(r.total, r.totalEstimated === true)
    fields.push([`done ${formatCount(r.done)} of ${total}`, `${formatCount(r.done)}/${total}`])
  }
  fields.push(formatJobRate(r.rate))
  fields.push(`elapsed ${formatDuration(r.elapsedMs)}`)
  fields.push(`failed ${formatCount(r.failed)}`)
  // The watermark: every job up to it is finished, and a restart resumes after its key.
  const through = `finished through #${formatCount(r.position)}`
  fields.push(r.last === null ? through : [`${through}, key ${String(r.last)}`, through])
  fields.push(`in flight ${formatCount(r.inFlight)}`)
  fields.push(`queued ${formatCount(r.queued)}`)
  if (c.rate !== null) fields.push(`rate limit ${formatJobRate(c.rate)}`)
  if (c.maxInFlight !== null) fields.push(`max in flight ${formatCount(c.maxInFlight)}`)
  if (r.waiting > 0) fields.push(`waiting ${formatCount(r.waiting)}`)
  fields.push(`slaves ${status.slaves.length}`)
  if (r.resumed) fields.push(`this master: ${formatCount(r.session.done)} done in ${formatDuration(r.session.elapsedMs)}`)
  // The master's own process, beside the slaves' table (a master older than the field has none).
  const m = status.master as MasterFigures | undefined
  if (m !== undefined) {
    const usage = `master cpu ${Math.round(m.cpuPercent)} %, rss ${formatBytes(m.rss)}`
    fields.push([`${usage}, net in ${formatBytes(m.netIn)}, net out ${formatBytes(m.netOut)}`, usage])
  }
  return fields
}

/**
 * Joins fields with ` | ` into at most `width` characters, in order of importance: each
 * field in its longest form that fits, and none after the first that fits in no form (a
 * less important field never shows in place of a more important one). A first field
 * wider than `width` is cut.
 */
export function fitFields(fields: readonly Field[], width: number): string {
  let line = ''
  for (const field of fields) {
    const forms = typeof field === 'string' ? [field] : field
    const fitting = forms.find((form) => (line === '' ? form.length : line.length + SEPARATOR.length + form.length) <= width)
    if (fitting === undefined) return line === '' ? forms[forms.length - 1].slice(0, Math.max(0, width)) : line
    line = line === '' ? fitting : line + SEPARATOR + fitting
  }
  return line
}

/**
 * The status line for a terminal `columns` wide (Infinity: a plain line for logs, no bar).
 * One column is kept free: a line that fills the last column wraps on some terminals.
 */
export function statusLine(status: RunStatus, columns = Infinity): string {
  if (!Number.isFinite(columns)) return fitFields(statusFields(status, 0), Infinity)
  // A bar as wide as leaves room for done, rate and elapsed at 80 columns.
  const bar = columns >= 120 ? BAR_CELLS : columns >= 80 ? 8 : 0
  return fitFields(statusFields(status, bar), columns - 1)
}

/** The controls in full, for `tm-ctl`: `paused | rate 1,000/s | max in flight off | throttle lag.ts: not throttled`. */
export function controlsText(c: ControlsFigures): string {
  const throttle =
    c.throttle === null ? 'no throttle' : `throttle ${c.throttle}: ${c.throttled === null ? 'not throttled' : `throttled: ${c.throttled}`}`
  return [
    c.paused ? 'paused' : 'not paused',
    `rate ${c.rate === null ? 'off' : formatJobRate(c.rate)}`,
    `max in flight ${c.maxInFlight === null ? 'off' : formatCount(c.maxInFlight)}`,
    throttle,
  ].join(SEPARATOR)
}

/** Columns of the slaves table: heading, cell of a slave, right-aligned. */
const COLUMNS: readonly Column<SlaveFigures>[] = [
  { head: 'slave', cell: (s) => `${s.hostname}:${s.pid}`, right: false },
  { head: 'address', cell: (s) => s.address, right: false },
  { head: 'conc', cell: (s) => formatCount(s.concurrency), right: true },
  { head: 'done', cell: (s) => formatCount(s.done), right: true },
  { head: 'rate', cell: (s) => formatJobRate(s.rate), right: true },
  { head: 'in flight', cell: (s) => formatCount(s.inFlight), right: true },
  { head: 'cpu', cell: (s) => `${Math.round(s.cpuPercent)} %`, right: true },
  { head: 'rss', cell: (s) => formatBytes(s.rss), right: true },
  { head: 'net in', cell: (s) => formatBytes(s.netIn), right: true },
  { head: 'net out', cell: (s) => formatBytes(s.netOut), right: true },
]

/** The slaves table: a heading and one line per slave, columns aligned, each line cut to `width`. */
export function slavesTable(slaves: readonly SlaveFigures[], width = Infinity): string[] {
  if (slaves.length === 0) return ['no slaves connected']
  return tableLines(COLUMNS, slaves, width)
}

/**
 * What a resumed run says at start: `Resuming 'posts' at 42,947 of 100,000, 42.9 % (after
 * key 42947)`, with the total and percent of its first document (`of ~1,088,000` for an
 * estimate); undefined on a fresh run.
 */
export function resumeMessage(status: RunStatus): string | undefined {
  const r = status.run
  if (!r.resumed) return undefined
  const where =
    r.total !== null && r.percent !== null
      ? `${formatCount(r.resumedAt)} of ${formatTotal(r.total, r.totalEstimated === true)}, ${formatPercent(r.percent)}`
      : formatCount(r.resumedAt)
  const after = r.last === null ? '' : ` (after key ${String(r.last)})`
  return `Resuming '${r.key}' at ${where}${after}: ${formatCount(r.done)} done and ${formatCount(r.failed)} failed so far in ${formatDuration(r.elapsedMs)}`
}
