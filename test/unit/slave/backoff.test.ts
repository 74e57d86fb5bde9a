import { describe, expect, it } from 'vitest'
import { backoffDelay, masterUrl } from '../../../src/slave/backoff.js'

const low = (): number => 0
const high = (): number => 1

describe('backoffDelay', () => {
  it('starts between 50 and 100 ms', () => {
    expect(backoffDelay(0, low)).toBe(50)
    expect(backoffDelay(0, high)).toBe(100)
    expect(backoffDelay(0, () => 0.5)).toBe(75)
  })

  it('doubles with each attempt, jittered in its upper half', () => {
    expect([1, 2, 3, 4, 5].map((a) => [backoffDelay(a, low), backoffDelay(a, high)])).toEqual([
      [100, 200],
      [200, 400],
      [400, 800],
      [800, 1600],
      [1600, 3200],
    ])
  })

  it('is capped at 5 s', () => {
    for (const attempt of [6, 7, 16, 17, 100, 10_000]) {
      expect(backoffDelay(attempt, low)).toBe(2500)
      expect(backoffDelay(attempt, high)).toBe(5000)
    }
  })

  it('stays within bounds with Math.random', () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = Math.min(5000, 100 * 2 ** attempt)
      const delay = backoffDelay(attempt)
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
      expect(delay).toBeLessThanOrEqual(ceiling)
    }
  })
})

describe('masterUrl', () => {
  it('adds ws:// to host:port', () => {
    expect(masterUrl('10.0.0.1:5050')).toBe('ws://10.0.0.1:5050')
    expect(masterUrl('[::1]:5050')).toBe('ws://[::1]:5050')
  })

  it('keeps ws:// and wss:// URLs', () => {
    expect(masterUrl('ws://h:1')).toBe('ws://h:1')
    expect(masterUrl('wss://h:1')).toBe('wss://h:1')
  })
})
