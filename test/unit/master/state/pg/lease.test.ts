import { describe, expect, it } from 'vitest'
import { HELD, fenced, leaseLockId } from '../../../../../src/master/state/pg/lease.js'

describe('fenced', () => {
  it('locks and renews the lease row first, then runs the writes, and answers whether the lease held', () => {
    const text = fenced([`w AS (DELETE FROM t WHERE run = $1 AND ${HELD})`])
    expect(text).toBe(
      "WITH l AS (UPDATE taskmaster_lease SET deadline = clock_timestamp() + $3::float8 * interval '1 millisecond' WHERE run = $1 AND fence = $2 RETURNING fence),\n w AS (DELETE FROM t WHERE run = $1 AND EXISTS (SELECT FROM l))\nSELECT count(*)::int AS held FROM l",
    )
  })
})

describe('leaseLockId', () => {
  it('is a signed 64-bit integer, one per run and fencing number', () => {
    const ids = [leaseLockId('a', 1), leaseLockId('a', 2), leaseLockId('b', 1)]
    expect(new Set(ids).size).toBe(3)
    for (const id of ids) expect(BigInt(id) >= -(2n ** 63n) && BigInt(id) < 2n ** 63n).toBe(true)
    expect(leaseLockId('a', 1)).toBe(leaseLockId('a', 1))
  })
})
