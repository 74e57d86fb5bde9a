import { describe, expect, it } from 'vitest'
import { OptionError } from '../../../../src/errors.js'
import type { ControlChange, ControlUpdate } from '../../../../src/master/engine/controls.js'
import {
  BURST_SECONDS,
  Controls,
  MAX_TIMER_MS,
  MIN_WAIT_MS,
  TokenBucket,
  burstOf,
  describeChange,
} from '../../../../src/master/engine/controls.js'

const NONE = { paused: false, rate: undefined, maxInFlight: undefined, throttle: undefined }

describe('TokenBucket', () => {
  it('starts full with a burst of 250 ms of jobs (at least one) and refills at its rate, never beyond the burst', () => {
    expect(BURST_SECONDS).toBe(0.25)
    expect([burstOf(0.5), burstOf(2), burstOf(100), burstOf(1000), burstOf(100_000)]).toEqual([1, 1, 25, 250, 25_000])
    const bucket = new TokenBucket(1000, 0)
    expect(bucket.available(0)).toBe(250)
    bucket.take(250)
    expect(bucket.available(0)).toBe(0)
    expect(bucket.available(10)).toBe(10)
    expect(bucket.available(10.5)).toBe(10)
    bucket.take(10)
    expect(bucket.available(1000)).toBe(250)
  })

  it('gives exactly rate × seconds (plus the burst) over a window, however it is asked', () => {
    for (const rate of [100, 1000, 10_000, 100_000]) {
      const bucket = new TokenBucket(rate, 0)
      let sent = 0
      // Asked at odd moments, as acks and timers come: 10 s in steps of 0.1-7 ms.
      for (let now = 0, i = 0; now <= 10_000; now += 0.1 + ((i++ * 7919) % 70) / 10) {
        const n = bucket.available(now)
        bucket.take(n)
        sent += n
      }
      expect(sent).toBeGreaterThanOrEqual(rate * 10 - 1)
      expect(sent).toBeLessThanOrEqual(rate * 10 + burstOf(rate))
    }
  })

  it('says how long until the next token, never less than MIN_WAIT_MS when waiting', () => {
    const bucket = new TokenBucket(10, 0)
    expect(bucket.waitMs(0)).toBe(0)
    bucket.take(2)
    expect(bucket.waitMs(0)).toBe(50)
    bucket.take(0.5)
    expect(bucket.waitMs(0)).toBe(100)
    expect(bucket.waitMs(60)).toBe(40)
    const fast = new TokenBucket(100_000, 0)
    fast.take(25_000)
    expect(fast.waitMs(0)).toBe(MIN_WAIT_MS)
  })

  it('never waits longer than a timer takes (a longer delay would fire after 1 ms, with a warning)', () => {
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1)
    const slow = new TokenBucket(1e-9, 0)
    slow.take(1)
    expect(slow.waitMs(0)).toBe(MAX_TIMER_MS)
    const controls = new Controls(NONE, 0)
    controls.setRate(0.001, { kind: 'api' }, 0)
    controls.spend(1)
    expect(controls.wakeIn(0, 0)).toBe(1_000_000)
  })

  it('keeps its tokens (up to the new burst) when the rate changes', () => {
    const bucket = new TokenBucket(1000, 0)
    bucket.take(200)
    bucket.setRate(100, 0)
    expect(bucket.available(0)).toBe(25)
    bucket.take(25)
    expect(bucket.available(250)).toBe(25)
    bucket.setRate(10_000, 250)
    expect(bucket.available(250)).toBe(25)
    expect(bucket.available(251)).toBe(35)
  })
})

describe('Controls', () => {
  it('allows everything without limits, nothing while paused or throttled', () => {
    const controls = new Controls(NONE, 0)
    expect(controls.allowance(0, 1e9)).toBe(Infinity)
    controls.setPaused(true, { kind: 'api' }, 0)
    expect(controls.allowance(0, 0)).toBe(0)
    controls.setPaused(false, { kind: 'api' }, 0)
    controls.setThrottled('lag 3 s', 0)
    expect(controls.allowance(0, 0)).toBe(0)
    controls.setThrottled(null, 0)
    expect(controls.allowance(0, 0)).toBe(Infinity)
  })

  it('allows the room under max in flight and the whole tokens of the rate, the smaller', () => {
    const controls = new Controls({ ...NONE, maxInFlight: 30, rate: 100 }, 0)
    expect(controls.allowance(0, 0)).toBe(25)
    expect(controls.allowance(0, 7)).toBe(23)
    expect(controls.allowance(0, 27)).toBe(3)
    expect(controls.allowance(0, 30)).toBe(0)
    expect(controls.allowance(0, 32)).toBe(0)
    controls.spend(25)
    expect(controls.allowance(0, 0)).toBe(0)
    // Waiting on tokens: dispatch is woken when the next one is due.
    expect(controls.wakeIn(0, 0)).toBe(10)
    // Waiting on acks (max in flight reached): no timer.
    expect(controls.wakeIn(0, 30)).toBeUndefined()
    expect(controls.allowance(30, 0)).toBe(3)
  })

  it('describeChange refuses what is not a change with a one-line TypeError naming what is wrong', () => {
    const refused =
      (change: unknown): unknown =>
      () =>
        describeChange(change as ControlUpdate)
    expect(refused(undefined)).toThrow(new TypeError('describeChange(change): change must be an object { kind, ... }, got undefined'))
    expect(refused({ kind: 'rate' })).toThrow(
      new TypeError('describeChange(change): change.rate must be a positive number or null (no limit), got undefined'),
    )
    expect(refused({ kind: 'rate', rate: NaN })).toThrow('change.rate must be a positive number or null (no limit), got NaN')
    expect(refused({ kind: 'max-in-flight', maxInFlight: '3' })).toThrow('change.maxInFlight must be a positive number or null')
    expect(refused({ kind: 'throttled' })).toThrow(new TypeError('describeChange(change): change.reason must be a string, got undefined'))
    expect(refused({ kind: 'throttle', throttle: 'lag.ts' })).toThrow('change.throttled must be a string or null, got undefined')
    expect(refused({ kind: 'nap' })).toThrow(new TypeError('Unknown change of the controls: {"kind":"nap"}'))
    expect(describeChange({ kind: 'throttle', throttle: 'lag.ts', throttled: null })).toBe('throttle lag.ts')
  })

  it("refuses a pause that is not a boolean ('false' is truthy): an OptionError, nothing changed", () => {
    const changes: ControlChange[] = []
    const controls = new Controls(NONE, 0, (change) => changes.push(change))
    for (const [value, got] of [
      ['false', "'false'"],
      [0, 'number'],
      [undefined, 'undefined'],
    ] as const)
      expect(() => controls.setPaused(value as unknown as boolean, { kind: 'api' }, 0)).toThrow(
        new OptionError(`setPaused(paused) must be true or false, got ${got}`, 'paused'),
      )
    expect([controls.paused, changes]).toEqual([false, []])
  })

  it('reports each change once, as a value and in words, with its source and the controls after it', () => {
    const changes: ControlChange[] = []
    const controls = new Controls({ ...NONE, throttle: 'lag.ts' }, 0, (change) => changes.push(change))
    expect(controls.setPaused(true, { kind: 'http', address: '127.0.0.1' }, 1000)).toEqual({ kind: 'paused' })
    expect(controls.setPaused(true, { kind: 'http', address: '127.0.0.1' }, 1000)).toBeUndefined()
    expect(controls.setRate(2500, { kind: 'api' }, 2000)).toEqual({ kind: 'rate', rate: 2500 })
    expect(controls.setRate(null, { kind: 'api' }, 2000)).toEqual({ kind: 'rate', rate: null })
    expect(controls.setMaxInFlight(64, { kind: 'flag' }, 3000)).toEqual({ kind: 'max-in-flight', maxInFlight: 64 })
    expect(controls.setThrottled('replica lag 4.2 s', 4000)).toEqual({ kind: 'throttled', reason: 'replica lag 4.2 s' })
    expect(controls.setThrottled(null, 5000)).toEqual({ kind: 'throttle-released' })
    expect(controls.setPaused(false, { kind: 'api' }, 6000)).toEqual({ kind: 'resumed' })
    expect(changes.map((c) => [c.time, c.changed, c.source])).toEqual([
      ['1970-01-01T00:00:01.000Z', 'paused', { kind: 'http', address: '127.0.0.1' }],
      ['1970-01-01T00:00:02.000Z', 'rate 2,500 jobs/s', { kind: 'api' }],
      ['1970-01-01T00:00:02.000Z', 'rate off', { kind: 'api' }],
      ['1970-01-01T00:00:03.000Z', 'max in flight 64', { kind: 'flag' }],
      ['1970-01-01T00:00:04.000Z', 'throttled: replica lag 4.2 s', { kind: 'throttle' }],
      ['1970-01-01T00:00:05.000Z', 'throttle released', { kind: 'throttle' }],
      ['1970-01-01T00:00:06.000Z', 'resumed', { kind: 'api' }],
    ])
    expect(changes.map((c) => c.change.kind)).toEqual([
      'paused',
      'rate',
      'rate',
      'max-in-flight',
      'throttled',
      'throttle-released',
      'resumed',
    ])
    for (const c of changes) expect(c.changed).toBe(describeChange(c.change))
    expect(changes[4].controls).toEqual({ paused: true, rate: null, maxInFlight: 64, throttled: 'replica lag 4.2 s', throttle: 'lag.ts' })
    expect(controls.figures).toEqual({ paused: false, rate: null, maxInFlight: 64, throttled: null, throttle: 'lag.ts' })
  })

  it('says every kind of change in words, in one place', () => {
    const words = describeChange
    expect(words({ kind: 'paused' })).toBe('paused')
    expect(words({ kind: 'resumed' })).toBe('resumed')
    expect(words({ kind: 'rate', rate: 0.5 })).toBe('rate 0.5 jobs/s')
    expect(words({ kind: 'rate', rate: 1234567.0001 })).toBe('rate 1,234,567 jobs/s')
    expect(words({ kind: 'rate', rate: null })).toBe('rate off')
    expect(words({ kind: 'max-in-flight', maxInFlight: 12000 })).toBe('max in flight 12,000')
    expect(words({ kind: 'max-in-flight', maxInFlight: null })).toBe('max in flight off')
    expect(words({ kind: 'throttle', throttle: 'lag.ts:check', throttled: null })).toBe('throttle lag.ts:check')
    expect(words({ kind: 'throttle', throttle: 'lag.ts', throttled: 'waiting for the first throttle check' })).toBe(
      'throttle lag.ts (waiting for the first throttle check)',
    )
    expect(words({ kind: 'throttled', reason: 'lag 3 s' })).toBe('throttled: lag 3 s')
    expect(words({ kind: 'throttle-released' })).toBe('throttle released')
    expect(words({ kind: 'stopping' })).toBe('stopping: no new jobs go out; the jobs in flight finish, then the checkpoint is written')
    expect(words({ kind: 'stopping-at-once' })).toBe('stopping at once: the jobs in flight run again on resume')
    expect(() => words({ kind: 'other' } as unknown as ControlUpdate)).toThrow('Unknown change of the controls: {"kind":"other"}')
  })

  it('refuses a rate or a max in flight out of their bounds, and changes nothing then', () => {
    const changes: ControlChange[] = []
    const controls = new Controls(NONE, 0, (change) => changes.push(change))
    for (const rate of [-5, 0, 1e-9, NaN, Infinity, 20_000_000]) {
      expect(() => controls.setRate(rate, { kind: 'api' })).toThrow(
        `setRate(rate) must be a number of jobs per second from 0.001 to 10000000 or null (no limit), got ${rate}`,
      )
    }
    for (const max of [0, -1, 2.5, NaN, Infinity, 200_000_000]) {
      expect(() => controls.setMaxInFlight(max, { kind: 'api' })).toThrow(
        `setMaxInFlight(max) must be a whole number of jobs from 1 to 100000000 or null (no limit), got ${max}`,
      )
    }
    expect(changes).toEqual([])
    expect(controls.figures).toMatchObject({ rate: null, maxInFlight: null })
  })

  it('lists the settings it started with as changes', () => {
    const controls = new Controls({ paused: true, rate: 1000, maxInFlight: 8, throttle: 'lag.ts:check' }, 0)
    expect(controls.initialChanges({ kind: 'checkpoint' }, {}, 0).map((c) => [c.changed, c.source.kind, c.change])).toEqual([
      ['paused', 'checkpoint', { kind: 'paused' }],
      ['rate 1,000 jobs/s', 'flag', { kind: 'rate', rate: 1000 }],
      ['max in flight 8', 'flag', { kind: 'max-in-flight', maxInFlight: 8 }],
      ['throttle lag.ts:check', 'flag', { kind: 'throttle', throttle: 'lag.ts:check', throttled: null }],
    ])
  })
})
