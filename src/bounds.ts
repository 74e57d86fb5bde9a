/**
 * The range a numeric option takes: a finite number from `min` (or over it, with
 * `aboveMin`) to `max`, a whole one if `integer`; `what` says the kind in words. Every
 * surface checks a value with it and names the value as its user wrote it: `--size` on the
 * command line, `options.size` in the library, the JSON field on HTTP.
 */
export interface Bounds {
  readonly min: number
  readonly max: number
  readonly integer: boolean
  readonly what: string
  /** `min` itself is refused (seconds > 0). */
  readonly aboveMin?: boolean
}

/** Whole numbers from `min` to `max` (no `max`: any safe integer). */
export function integers(min: number, max = Number.MAX_SAFE_INTEGER, what = 'an integer'): Bounds {
  return { min, max, integer: true, what }
}

/**
 * Most seconds an option that goes into a timer may take: a week. Timers take at most
 * 2^31-1 ms (24.8 days) and silently fire after 1 ms beyond, and a slave waits 2.5 heartbeats.
 */
export const MAX_SECONDS = 604_800

/** Seconds from 0, at most {@link MAX_SECONDS}. */
export const SECONDS: Bounds = { min: 0, max: MAX_SECONDS, integer: false, what: 'a number of seconds' }

/** Seconds over 0, at most {@link MAX_SECONDS}: a period or a deadline that cannot be nothing. */
export const POSITIVE_SECONDS: Bounds = { ...SECONDS, aboveMin: true }

/** The range in words: `an integer from 1 to 1000000`, `an integer >= 1`, `a number of seconds over 0 and up to 604800`. */
export function rangeWords(bounds: Bounds): string {
  if (bounds.max >= Number.MAX_SAFE_INTEGER) return `${bounds.what} ${bounds.aboveMin === true ? '>' : '>='} ${bounds.min}`
  return bounds.aboveMin === true
    ? `${bounds.what} over ${bounds.min} and up to ${bounds.max}`
    : `${bounds.what} from ${bounds.min} to ${bounds.max}`
}

/** True when `value` is within `bounds`. NaN, Infinity and non-numbers never are. */
export function withinBounds(bounds: Bounds, value: unknown): value is number {
  if (typeof value !== 'number' || !(bounds.integer ? Number.isSafeInteger(value) : Number.isFinite(value))) return false
  return (bounds.aboveMin === true ? value > bounds.min : value >= bounds.min) && value <= bounds.max
}

/** What is said of a value out of `bounds`, after the name its user gave it: `must be an integer from 1 to 10, got 0`. */
export function outOfBounds(bounds: Bounds, got: string, also = ''): string {
  return `must be ${rangeWords(bounds)}${also}, got ${got}`
}

/**
 * The number a user typed, in decimal (`2.5`, `1e3`), or NaN for anything else: hex, `Infinity`,
 * `NaN`, blanks, a unit (`5s`), so every surface refuses the same texts.
 */
export function numberOfText(text: string): number {
  return /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(text) ? Number(text) : NaN
}
