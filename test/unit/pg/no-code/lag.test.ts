import { describe, expect, it } from 'vitest'
import { LAG_QUERY, lagThrottle, lagVerdict } from '../../../../src/pg/no-code/lag.js'
import type { OwnPool } from '../../../../src/pg/connection.js'

/** A pool whose lag query answers each of `answers` in turn (an Error rejects). */
function fakePool(answers: (number | string | null | Error)[]): OwnPool & { queries: string[] } {
  const queries: string[] = []
  return {
    queries,
    query: (text: string) => {
      queries.push(text)
      const answer = answers.shift()
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve({ rows: [{ seconds: answer }] })
    },
    end: () => Promise.resolve(),
  }
}

const check = (throttle: ReturnType<typeof lagThrottle>): unknown => throttle.check({ args: {}, signal: new AbortController().signal })

describe('max-lag=', () => {
  it('holds dispatch while the lag is over the limit, with the lag as the reason; nothing to measure lets jobs go', () => {
    expect(lagVerdict(7.25, 5)).toBe('replication lag 7.3 s > 5 s')
    expect(lagVerdict(5, 5)).toBe(false)
    expect(lagVerdict(null, 0.5)).toBe(false)
  })

  it('reads the lag a check at a time on one pool opened on first use, and opens another after a failed open', async () => {
    const pool = fakePool(['0.2', 12, null])
    let opened = 0
    const throttle = lagThrottle(2, 'postgres://h/db', () => (++opened === 1 ? Promise.reject(new Error('down')) : Promise.resolve(pool)))
    expect(throttle.name).toBe('replication lag over 2 s (max-lag)')
    await expect(check(throttle)).rejects.toThrow('down')
    expect(await check(throttle)).toBe(false)
    expect(await check(throttle)).toBe('replication lag 12.0 s > 2 s')
    expect(await check(throttle)).toBe(false)
    expect(opened).toBe(2)
    expect(pool.queries).toEqual([LAG_QUERY, LAG_QUERY, LAG_QUERY])
  })
})
