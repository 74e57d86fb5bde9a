import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { MovingRate, jsonKey, startingStatus } from '../../../../src/master/engine/status.js'

describe('MovingRate', () => {
  it('is 0 until two samples span some time', () => {
    const rate = new MovingRate(10_000)
    expect(rate.sample(50, 1000)).toBe(0)
    expect(rate.sample(60, 1000)).toBe(0)
  })

  it('looks back one window, so a slow start does not weigh on it later', () => {
    const rate = new MovingRate(10_000)
    rate.sample(0, 0)
    expect(rate.sample(10, 1000)).toBe(10)
    for (let s = 2; s <= 10; s++) rate.sample(10 + (s - 1) * 100, s * 1000)
    // From t=1 s on, 100 jobs a second: at t=11 s the window holds t=1..11 only.
    expect(rate.sample(1010, 11_000)).toBe(100)
    expect(rate.sample(1110, 12_000)).toBe(100)
    // Nothing more for a whole window: the rate falls to 0.
    for (let s = 13; s <= 22; s++) rate.sample(1110, s * 1000)
    expect(rate.sample(1110, 23_000)).toBe(0)
  })
})

describe('jsonKey', () => {
  it('gives keys as JSON takes them', () => {
    expect(jsonKey(12)).toBe(12)
    expect(jsonKey('a')).toBe('a')
    expect(jsonKey(2n ** 70n)).toBe('1180591620717411303424')
    expect(jsonKey(undefined)).toBe(null)
  })
})

describe('startingStatus', () => {
  it('is a document of zeros in the starting state', () => {
    const status = startingStatus('k', { a: '1' }, 'starting', Date.UTC(2026, 0, 2, 3, 4, 5, 6))
    expect(status).toEqual({
      time: '2026-01-02T03:04:05.006Z',
      run: {
        key: 'k',
        args: { a: '1' },
        state: 'starting',
        resumed: false,
        resumedAt: 0,
        position: 0,
        last: null,
        done: 0,
        failed: 0,
        inFlight: 0,
        queued: 0,
        waiting: 0,
        skipped: 0,
        total: null,
        totalEstimated: false,
        percent: null,
        rate: 0,
        etaMs: null,
        elapsedMs: 0,
        startedAt: '2026-01-02T03:04:05.006Z',
        session: { done: 0, failed: 0, elapsedMs: 0, startedAt: '2026-01-02T03:04:05.006Z' },
        controls: { paused: false, rate: null, maxInFlight: null, throttled: null, throttle: null },
      },
      master: { hostname: hostname(), pid: process.pid, cpuPercent: 0, rss: 0, netIn: 0, netOut: 0 },
      slaves: [],
      failures: [],
    })
    expect(JSON.parse(JSON.stringify(status))).toEqual(status)
  })
})
