/** Milliseconds as `h:mm:ss`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
}

/** Milliseconds as seconds with two decimals: `0.42 s`. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`
}

/** A rate with two decimals, padded like the original Taskmaster's status line. */
export function formatRate(rate: number): string {
  return rate.toFixed(2).padStart(8)
}

let countFormatter: Intl.NumberFormat | undefined
/** Made on first use: the first Intl formatter loads ICU's locale data, tens of milliseconds of a master's start. */
const countFormat = (): Intl.NumberFormat => (countFormatter ??= new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }))

/** An integer with thousands separators: `42,947`. */
export function formatCount(n: number): string {
  return countFormat().format(n)
}

/** A run's total: `1,000,000`, or `~1,000,000` when it is an estimate. */
export function formatTotal(total: number, estimated: boolean): string {
  return `${estimated ? '~' : ''}${formatCount(total)}`
}

/** Jobs per second: one decimal below 100, none above (`8.5/s`, `1,234/s`); a rate under 0.1 keeps two significant digits (`0.0011/s`, never `0.0/s`). */
export function formatJobRate(rate: number): string {
  if (rate >= 100) return `${countFormat().format(Math.round(rate))}/s`
  if (rate === 0 || rate >= 0.1) return `${rate.toFixed(1)}/s`
  return `${Number(rate.toPrecision(2))}/s`
}

/** Bytes in binary units: `512 B`, `1.5 KiB`, `210 MiB`, `3.2 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}

/** A percentage with one decimal below 100: `33.0 %`. */
export function formatPercent(percent: number): string {
  return `${(Math.floor(percent * 10) / 10).toFixed(1)} %`
}

/** A column of a table for people: its heading, the text of a row's cell, right-aligned (numbers) or not. */
export interface Column<T> {
  head: string
  cell: (row: T) => string
  right: boolean
}

/** A heading and a line per row, columns aligned two spaces apart (no trailing spaces), each line cut to `width`. */
export function tableLines<T>(columns: readonly Column<T>[], rows: readonly T[], width = Infinity): string[] {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)))
  const widths = columns.map((c, i) => Math.max(c.head.length, ...cells.map((line) => line[i].length)))
  const line = (texts: readonly string[]): string =>
    texts
      .map((text, i) => (columns[i].right ? text.padStart(widths[i]) : text.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
      .slice(0, Number.isFinite(width) ? width : undefined)
  return [line(columns.map((c) => c.head)), ...cells.map(line)]
}
