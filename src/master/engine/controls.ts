/**
 * The run's controls, applied at dispatch in the master so they hold across every slave:
 * a fleet-wide rate (a token bucket), a fleet-wide cap on jobs in flight, pause, and the
 * hold of a throttle check. Pure: the caller hands in the clock and the jobs in flight;
 * the dispatcher asks {@link Controls.allowance} how many jobs may go now and reports what
 * it sent with {@link Controls.spend}. Limits count jobs (rows), never frames or batches.
 */

import { outOfBounds, withinBounds } from '../../bounds.js'
import { OptionError } from '../../errors.js'
import { MASTER_OPTIONS, checkBoolean } from '../../option-specs.js'

/**
 * Seconds of jobs a full bucket holds: the burst a rate allows after a lull. Also how long
 * the master's event loop may stall (a GC, a loaded machine) without the fleet losing
 * rate: tokens beyond a full bucket are lost. A quarter second of burst is a fortieth of a
 * 10 s window, even when the window starts on a full bucket.
 */
export const BURST_SECONDS = 0.25

/**
 * Shortest wait before dispatch runs again for new tokens. Timers fire no finer than about
 * a millisecond; at 100,000 jobs/s this gives frames of ~400 jobs instead of a wake-up per job.
 */
export const MIN_WAIT_MS = 4

/**
 * Longest delay a timer takes: Node fires a longer one after 1 ms, with a
 * TimeoutOverflowWarning. Every wait for tokens is clamped to it (a run woken early
 * finds no token and waits again).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * A token bucket of `rate` tokens a second holding at most `capacity` (the burst). Tokens
 * are fractional: a rate of 0.5 gives a token every two seconds.
 */
export class TokenBucket {
  #rate: number
  #capacity: number
  #tokens: number
  #at: number

  /** A full bucket at `now` (ms). */
  constructor(rate: number, now: number) {
    this.#rate = rate
    this.#capacity = burstOf(rate)
    this.#tokens = this.#capacity
    this.#at = now
  }

  /** Tokens a second. */
  get rate(): number {
    return this.#rate
  }

  /** Changes the rate from `now` on; the tokens already there are kept, up to the new burst. */
  setRate(rate: number, now: number): void {
    this.#refill(now)
    this.#rate = rate
    this.#capacity = burstOf(rate)
    this.#tokens = Math.min(this.#tokens, this.#capacity)
  }

  /** Whole tokens at `now`. */
  available(now: number): number {
    this.#refill(now)
    return Math.floor(this.#tokens)
  }

  /** Spends `n` tokens (the caller took at most {@link available}). */
  take(n: number): void {
    this.#tokens -= n
  }

  /** Milliseconds from `now` until a whole token is there (0 if one is), from {@link MIN_WAIT_MS} to {@link MAX_TIMER_MS} when waiting. */
  waitMs(now: number): number {
    this.#refill(now)
    if (this.#tokens >= 1) return 0
    return Math.min(MAX_TIMER_MS, Math.max(MIN_WAIT_MS, Math.ceil(((1 - this.#tokens) * 1000) / this.#rate)))
  }

  #refill(now: number): void {
    if (now > this.#at) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#at) * this.#rate) / 1000)
      this.#at = now
    }
  }
}

/** The burst of a rate: {@link BURST_SECONDS} of jobs, at least one. */
export function burstOf(rate: number): number {
  return Math.max(1, rate * BURST_SECONDS)
}

/** The controls as the status document shows them (`run.controls`). */
export interface ControlsFigures {
  /** No new jobs go out (jobs in flight finish). */
  paused: boolean
  /** Most jobs per second sent to the whole fleet (`--rate`); null: no limit. */
  rate: number | null
  /** Most jobs in flight over the whole fleet (`--max-in-flight`); null: no limit. */
  maxInFlight: number | null
  /** Why the throttle check holds dispatch now; null while it lets jobs go (or there is none). */
  throttled: string | null
  /** The throttle check (`--throttle`, as given); null without one. */
  throttle: string | null
}

/** Where a change of the controls came from. */
export type ControlSource =
  | { kind: 'flag' }
  | { kind: 'checkpoint' }
  | { kind: 'api' }
  | { kind: 'http'; address: string }
  | { kind: 'throttle' }

/**
 * What a change of the controls did, one kind each: what the setters return, what a
 * `control` event and an answer of the control endpoints carry (`change`), and what the
 * stats stream records. {@link describeChange} says it in words: callers read `kind`,
 * never the words.
 */
export type ControlUpdate =
  | { kind: 'paused' }
  | { kind: 'resumed' }
  /** The fleet-wide rate, jobs/s; null: no limit. */
  | { kind: 'rate'; rate: number | null }
  /** The fleet-wide cap on jobs in flight; null: no limit. */
  | { kind: 'max-in-flight'; maxInFlight: number | null }
  /** The throttle check the run starts with, and why it holds dispatch (null: it does not). */
  | { kind: 'throttle'; throttle: string; throttled: string | null }
  /** The throttle check holds dispatch, and why. */
  | { kind: 'throttled'; reason: string }
  | { kind: 'throttle-released' }
  /** A graceful stop: no new jobs go out, the jobs in flight finish. */
  | { kind: 'stopping' }
  /** A second stop: the run ends now, the jobs in flight run again on resume. */
  | { kind: 'stopping-at-once' }

/** One change of the controls, as the `control` event tells it and the stats stream records it. */
export interface ControlChange {
  /** When it changed (ISO 8601). */
  time: string
  /** What changed, in words (`paused`, `rate 1,000 jobs/s`, ...): {@link describeChange} of {@link change}. */
  changed: string
  /** What changed. */
  change: ControlUpdate
  /** Where it came from. */
  source: ControlSource
  /** The controls after the change. */
  controls: ControlsFigures
}

const count = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 3 })

/** A change of the controls in words, for people: `paused`, `rate 1,000 jobs/s`, `max in flight off`, ... */
export function describeChange(change: ControlUpdate): string {
  const wrong = wrongChange(change)
  if (wrong !== undefined) throw new TypeError(`describeChange(change): ${wrong}`)
  switch (change.kind) {
    case 'paused':
    case 'resumed':
      return change.kind
    case 'rate':
      return change.rate === null ? 'rate off' : `rate ${count(change.rate)} jobs/s`
    case 'max-in-flight':
      return change.maxInFlight === null ? 'max in flight off' : `max in flight ${count(change.maxInFlight)}`
    case 'throttle':
      return `throttle ${change.throttle}${change.throttled === null ? '' : ` (${change.throttled})`}`
    case 'throttled':
      return `throttled: ${change.reason}`
    case 'throttle-released':
      return 'throttle released'
    case 'stopping':
      return 'stopping: no new jobs go out; the jobs in flight finish, then the checkpoint is written'
    case 'stopping-at-once':
      return 'stopping at once: the jobs in flight run again on resume'
    default:
      return unknownChange(change)
  }
}

/** A kind of change without words: a compile error while {@link describeChange} misses one. */
function unknownChange(change: never): never {
  throw new TypeError(`Unknown change of the controls: ${JSON.stringify(change)}`)
}

/** What is wrong with a change a script handed to {@link describeChange} (it is exported), if anything. */
function wrongChange(change: unknown): string | undefined {
  if (typeof change !== 'object' || change === null)
    return `change must be an object { kind, ... }, got ${change === null ? 'null' : typeof change}`
  const c = change as Record<string, unknown>
  const limit = (name: string): string | undefined =>
    c[name] === null || (typeof c[name] === 'number' && Number.isFinite(c[name]) && c[name] > 0)
      ? undefined
      : `change.${name} must be a positive number or null (no limit), got ${typeof c[name] === 'number' ? c[name] : typeof c[name]}`
  const text = (name: string, orNull = false): string | undefined =>
    typeof c[name] === 'string' || (orNull && c[name] === null)
      ? undefined
      : `change.${name} must be a string${orNull ? ' or null' : ''}, got ${typeof c[name]}`
  switch (c.kind) {
    case 'rate':
      return limit('rate')
    case 'max-in-flight':
      return limit('maxInFlight')
    case 'throttle':
      return text('throttle') ?? text('throttled', true)
    case 'throttled':
      return text('reason')
    default:
      return undefined
  }
}

/** The record of `change` from `source` at `now` (ms), with the controls after it. */
export function controlChange(change: ControlUpdate, source: ControlSource, controls: ControlsFigures, now: number): ControlChange {
  return { time: new Date(now).toISOString(), changed: describeChange(change), change, source, controls }
}

/** What the controls start with. */
export interface ControlSettings {
  paused: boolean
  rate: number | undefined
  maxInFlight: number | undefined
  throttle: string | undefined
  /** Why dispatch is held from the start (a throttle check that has not answered yet). */
  throttled?: string
}

/** The setters' names as a script calls them, by control. */
const SETTERS = { rate: 'setRate(rate)', maxInFlight: 'setMaxInFlight(max)' } as const

/**
 * Refuses a value of a control's setter out of the option's bounds (MASTER_OPTIONS; null,
 * no limit, is always allowed), naming the setter: the master's setters and the run's take it from here.
 */
export function checkControl(control: keyof typeof SETTERS, value: number | null): void {
  const bounds = MASTER_OPTIONS[control].bounds
  if (value !== null && !withinBounds(bounds, value))
    throw new OptionError(`${SETTERS[control]} ${outOfBounds(bounds, String(value), ' or null (no limit)')}`, control)
}

/**
 * The state of the controls and what they allow. Changes go through the setters, which
 * return the change (undefined when nothing changed) and tell `onChange`.
 */
export class Controls {
  #paused: boolean
  #maxInFlight: number | null
  #bucket: TokenBucket | null
  #throttled: string | null = null
  readonly #throttle: string | null
  readonly #onChange: (change: ControlChange) => void
  #figures: ControlsFigures | undefined

  constructor(settings: ControlSettings, now: number, onChange: (change: ControlChange) => void = () => {}) {
    this.#paused = settings.paused
    this.#maxInFlight = settings.maxInFlight ?? null
    this.#bucket = settings.rate === undefined ? null : new TokenBucket(settings.rate, now)
    this.#throttle = settings.throttle ?? null
    this.#throttled = settings.throttled ?? null
    this.#onChange = onChange
  }

  /** The controls now (the same object until the next change). */
  get figures(): ControlsFigures {
    return (this.#figures ??= {
      paused: this.#paused,
      rate: this.#bucket?.rate ?? null,
      maxInFlight: this.#maxInFlight,
      throttled: this.#throttled,
      throttle: this.#throttle,
    })
  }

  /** True while paused. */
  get paused(): boolean {
    return this.#paused
  }

  /**
   * How many jobs may go out now with `inFlight` jobs in flight over the fleet: 0 while
   * paused or throttled, else the room under --max-in-flight and the whole tokens of
   * --rate (Infinity without limits).
   */
  allowance(now: number, inFlight: number): number {
    if (this.#paused || this.#throttled !== null) return 0
    const n = this.#maxInFlight === null ? Infinity : Math.max(0, this.#maxInFlight - inFlight)
    return this.#bucket === null || n === 0 ? n : Math.min(n, this.#bucket.available(now))
  }

  /** `n` jobs went out: their tokens are spent. */
  spend(n: number): void {
    this.#bucket?.take(n)
  }

  /**
   * Milliseconds until dispatch should run again for tokens, after a dispatch that used
   * up its allowance with jobs and credit left; undefined when tokens are not what it
   * waits for (an ack, new credit or a change of the controls wakes dispatch then).
   */
  wakeIn(now: number, inFlight: number): number | undefined {
    if (this.#bucket === null || this.#paused || this.#throttled !== null) return undefined
    if (this.#maxInFlight !== null && inFlight >= this.#maxInFlight) return undefined
    return Math.max(MIN_WAIT_MS, this.#bucket.waitMs(now))
  }

  /** Pauses (true) or resumes (false). */
  setPaused(paused: boolean, source: ControlSource, now = Date.now()): ControlUpdate | undefined {
    checkBoolean(paused, 'setPaused(paused)', 'paused')
    if (paused === this.#paused) return undefined
    this.#paused = paused
    return this.#changed({ kind: paused ? 'paused' : 'resumed' }, source, now)
  }

  /** Sets --rate (null: no limit); throws an OptionError for a rate out of the option's bounds. */
  setRate(rate: number | null, source: ControlSource, now = Date.now()): ControlUpdate | undefined {
    checkControl('rate', rate)
    if (rate === (this.#bucket?.rate ?? null)) return undefined
    if (rate === null) this.#bucket = null
    else if (this.#bucket === null) this.#bucket = new TokenBucket(rate, now)
    else this.#bucket.setRate(rate, now)
    return this.#changed({ kind: 'rate', rate }, source, now)
  }

  /** Sets --max-in-flight (null: no limit); throws an OptionError for a value out of the option's bounds. */
  setMaxInFlight(max: number | null, source: ControlSource, now = Date.now()): ControlUpdate | undefined {
    checkControl('maxInFlight', max)
    if (max === this.#maxInFlight) return undefined
    this.#maxInFlight = max
    return this.#changed({ kind: 'max-in-flight', maxInFlight: max }, source, now)
  }

  /** The throttle check's answer: a reason to hold dispatch, or null to let jobs go. */
  setThrottled(reason: string | null, now = Date.now()): ControlUpdate | undefined {
    if (reason === this.#throttled) return undefined
    this.#throttled = reason
    return this.#changed(reason === null ? { kind: 'throttle-released' } : { kind: 'throttled', reason }, { kind: 'throttle' }, now)
  }

  /**
   * The settings the run started with, as changes (for the stats stream's record): the
   * pause by `source`, a rate and a max in flight by their flags unless `setBy` names who
   * set them before the run started.
   */
  initialChanges(
    source: ControlSource,
    setBy: { rate?: ControlSource; maxInFlight?: ControlSource } = {},
    now = Date.now(),
  ): ControlChange[] {
    const f = this.figures
    const flag: ControlSource = { kind: 'flag' }
    const changes: ControlChange[] = []
    if (f.paused) changes.push(controlChange({ kind: 'paused' }, source, f, now))
    if (f.rate !== null) changes.push(controlChange({ kind: 'rate', rate: f.rate }, setBy.rate ?? flag, f, now))
    if (f.maxInFlight !== null)
      changes.push(controlChange({ kind: 'max-in-flight', maxInFlight: f.maxInFlight }, setBy.maxInFlight ?? flag, f, now))
    if (f.throttle !== null) changes.push(controlChange({ kind: 'throttle', throttle: f.throttle, throttled: f.throttled }, flag, f, now))
    return changes
  }

  #changed(change: ControlUpdate, source: ControlSource, now: number): ControlUpdate {
    this.#figures = undefined
    this.#onChange(controlChange(change, source, this.figures, now))
    return change
  }
}
