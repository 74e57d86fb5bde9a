import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { readTotal, usableTotal } from '../../../../src/master/engine/run.js'
import type { MasterEvents } from '../../../../src/master/engine/types.js'
import type { JobSource } from '../../../../src/options.js'

/** readTotal over a module whose total() returns `value`, with the warnings it logged. */
async function totalOf(value: unknown): Promise<{ total: number | undefined; warnings: string[] }> {
  const warnings: string[] = []
  const source = { getJobs: () => [], total: () => value } as unknown as JobSource
  const events = new EventEmitter<MasterEvents>()
  events.on('log', (line) => warnings.push(line.message))
  const total = await readTotal({ source, args: {}, shard: undefined }, events)
  return { total, warnings }
}

describe('total()', () => {
  it('is a whole number of jobs from a number, a bigint or a string of digits (count(*) as a driver returns it)', () => {
    expect([5, 0, 2.5, 7n, '1081864', ' 12 '].map(usableTotal)).toEqual([5, 0, 3, 7, 1081864, 12])
  })

  it('is no total for what cannot be a count', () => {
    expect([-5, NaN, Infinity, 1e300, -1n, 2n ** 64n, 'abc', '5 rows', '-3', '', {}, [], true, undefined, null].map(usableTotal)).toEqual(Array(15).fill(undefined))
  })

  it('that returns what cannot be a count is said once in a warning, and the run goes on without a total', async () => {
    expect(await totalOf('abc')).toEqual({ total: undefined, warnings: ["total() returned the string 'abc', running without a total: it must return a whole number of jobs >= 0 (a number, a bigint or a string of digits, as a count(*) comes back)"] })
    expect((await totalOf(-5)).warnings).toEqual(['total() returned -5, running without a total: it must return a whole number of jobs >= 0 (a number, a bigint or a string of digits, as a count(*) comes back)'])
    expect((await totalOf({})).warnings[0]).toMatch(/^total\(\) returned an object, running without a total/)
    expect(await totalOf('42')).toEqual({ total: 42, warnings: [] })
    // No total at all is not a mistake.
    expect(await totalOf(undefined)).toEqual({ total: undefined, warnings: [] })
  })
})
