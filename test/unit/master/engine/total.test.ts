import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { describeTotal, readTotal, usableTotal } from '../../../../src/master/engine/total.js'
import type { RunTotal } from '../../../../src/master/engine/total.js'
import type { MasterEvents } from '../../../../src/master/engine/types.js'
import type { JobSource } from '../../../../src/options.js'

/** readTotal over a module whose total() returns `value`, with the warnings it logged. */
async function totalOf(value: unknown): Promise<{ total: RunTotal | undefined; warnings: string[] }> {
  const warnings: string[] = []
  const source = { getJobs: () => [], total: () => value } as unknown as JobSource
  const events = new EventEmitter<MasterEvents>()
  events.on('log', (line) => warnings.push(line.message))
  const total = await readTotal({ source, args: {}, shard: undefined }, events)
  return { total, warnings }
}

const exact = (count: number): RunTotal => ({ count, estimate: false })
const estimated = (count: number): RunTotal => ({ count, estimate: true })
const MUST =
  'it must return a whole number of jobs >= 0 (a number, a bigint or a string of digits, as a count(*) comes back), or { estimate: n } of one'

describe('total()', () => {
  it('is a whole number of jobs from a number, a bigint or a string of digits (count(*) as a driver returns it)', () => {
    expect([5, 0, 2.5, 7n, '1081864', ' 12 '].map(usableTotal)).toEqual([5, 0, 3, 7, 1081864, 12].map(exact))
  })

  it('is no total for what cannot be a count', () => {
    expect([-5, NaN, Infinity, 1e300, -1n, 2n ** 64n, 'abc', '5 rows', '-3', '', {}, [], true, undefined, null].map(usableTotal)).toEqual(
      Array(15).fill(undefined),
    )
  })

  it('{ estimate: n } is the source saying n is a guess: the count, flagged, from any form a count takes', () => {
    expect([{ estimate: 150_000 }, { estimate: 2.5 }, { estimate: 7n }, { estimate: '42' }].map(usableTotal)).toEqual(
      [150_000, 3, 7, 42].map(estimated),
    )
    // An estimate of what cannot be a count is no total; an array is not an estimate.
    expect(
      [
        { estimate: -1 },
        { estimate: 'many' },
        { estimate: undefined },
        { estimate: { estimate: 5 } },
        Object.assign([5], { estimate: 5 }),
      ].map(usableTotal),
    ).toEqual(Array(5).fill(undefined))
  })

  it('an object whose estimate getter throws is no total, and its warning still says what it was', () => {
    const hostile = {
      get estimate(): number {
        throw new Error('no')
      },
    }
    expect(usableTotal(hostile)).toBeUndefined()
    expect(describeTotal(hostile)).toBe('an object')
  })

  it('that returns what cannot be a count is said once in a warning, and the run goes on without a total', async () => {
    expect(await totalOf('abc')).toEqual({
      total: undefined,
      warnings: [`total() returned the string 'abc', running without a total: ${MUST}`],
    })
    expect((await totalOf(-5)).warnings).toEqual([`total() returned -5, running without a total: ${MUST}`])
    expect((await totalOf({})).warnings[0]).toMatch(/^total\(\) returned an object, running without a total/)
    expect((await totalOf({ estimate: 'lots' })).warnings).toEqual([
      `total() returned { estimate: the string 'lots' }, running without a total: ${MUST}`,
    ])
    // A self-referring estimate is described one level deep.
    const loop: { estimate?: unknown } = {}
    loop.estimate = loop
    expect((await totalOf(loop)).warnings).toEqual([`total() returned { estimate: an object }, running without a total: ${MUST}`])
    expect(await totalOf('42')).toEqual({ total: exact(42), warnings: [] })
    expect(await totalOf({ estimate: 1e6 })).toEqual({ total: estimated(1e6), warnings: [] })
    // No total at all is not a mistake.
    expect(await totalOf(undefined)).toEqual({ total: undefined, warnings: [] })
  })
})
