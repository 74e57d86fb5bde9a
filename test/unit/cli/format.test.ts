import { describe, expect, it } from 'vitest'
import { formatCount, formatDuration, formatJobRate, formatRate, formatSeconds } from '../../../src/cli/format.js'

describe('formatDuration', () => {
  it('writes h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00:00')
    expect(formatDuration(999)).toBe('0:00:00')
    expect(formatDuration(61_000)).toBe('0:01:01')
    expect(formatDuration(3_600_000 * 26 + 59_000)).toBe('26:00:59')
    expect(formatDuration(-5000)).toBe('0:00:00')
  })
})

describe('formatSeconds', () => {
  it('writes seconds with two decimals (the start of a master)', () => {
    expect(formatSeconds(0)).toBe('0.00 s')
    expect(formatSeconds(424.6)).toBe('0.42 s')
    expect(formatSeconds(12_345)).toBe('12.35 s')
  })
})

describe('formatCount and formatJobRate', () => {
  it('write thousands separators', () => {
    expect(formatCount(42_947)).toBe('42,947')
    expect(formatJobRate(8.46)).toBe('8.5/s')
    expect(formatJobRate(1234.4)).toBe('1,234/s')
  })
})

describe('formatRate', () => {
  it('pads to 8 with two decimals', () => {
    expect(formatRate(0)).toBe('    0.00')
    expect(formatRate(1234.567)).toBe(' 1234.57')
    expect(formatRate(123456789)).toBe('123456789.00')
  })
})

describe('formatCount, formatJobRate, formatBytes, formatPercent', () => {
  it('write counts with separators, rates with a decimal below 100, bytes in binary units, percents rounded down', async () => {
    const { formatBytes, formatCount, formatJobRate, formatPercent } = await import('../../../src/cli/format.js')
    expect(formatCount(0)).toBe('0')
    expect(formatCount(1234567)).toBe('1,234,567')
    expect(formatJobRate(0)).toBe('0.0/s')
    expect(formatJobRate(99.94)).toBe('99.9/s')
    expect(formatJobRate(1234.5)).toBe('1,235/s')
    // A small limit is shown as itself, never as 0.0/s.
    expect(formatJobRate(0.0011)).toBe('0.0011/s')
    expect(formatJobRate(0.05)).toBe('0.05/s')
    expect(formatJobRate(0.1)).toBe('0.1/s')
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(210 * 1048576)).toBe('210 MiB')
    expect(formatPercent(33.333)).toBe('33.3 %')
    expect(formatPercent(99.99)).toBe('99.9 %')
    expect(formatPercent(100)).toBe('100.0 %')
  })
})
