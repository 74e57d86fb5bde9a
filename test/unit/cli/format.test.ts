import { describe, expect, it } from 'vitest'
import { formatDuration, formatRate } from '../../../src/cli/format.js'

describe('formatDuration', () => {
  it('writes h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00:00')
    expect(formatDuration(999)).toBe('0:00:00')
    expect(formatDuration(61_000)).toBe('0:01:01')
    expect(formatDuration(3_600_000 * 26 + 59_000)).toBe('26:00:59')
    expect(formatDuration(-5000)).toBe('0:00:00')
  })
})

describe('formatRate', () => {
  it('pads to 8 with two decimals', () => {
    expect(formatRate(0)).toBe('    0.00')
    expect(formatRate(1234.567)).toBe(' 1234.57')
    expect(formatRate(123456789)).toBe('123456789.00')
  })
})
