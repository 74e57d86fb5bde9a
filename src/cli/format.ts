/** Milliseconds as `h:mm:ss`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
}

/** A rate with two decimals, padded like the original Taskmaster's status line. */
export function formatRate(rate: number): string {
  return rate.toFixed(2).padStart(8)
}
