import { describe, expect, it } from 'vitest'
import { claimKeyOf } from '../../../../src/pg/no-code/sql.js'

describe('the claim key of a row (pg/sql once=true)', () => {
  it('is the key column as it is: a number, bigint or string', () => {
    const key = claimKeyOf(['id'])
    expect(key({ id: 42, email: 'x' })).toBe(42)
    expect(key({ id: 2n ** 62n })).toBe(2n ** 62n)
    expect(key({ id: 'b7f0' })).toBe('b7f0')
  })

  it('is a date as its ISO text, and anything else as JSON', () => {
    expect(claimKeyOf(['at'])({ at: new Date(Date.UTC(2026, 11, 7)) })).toBe('2026-12-07T00:00:00.000Z')
    expect(claimKeyOf(['doc'])({ doc: { a: 1 } })).toBe('{"a":1}')
  })

  it('is the values of a composite key as JSON text, in the order of keys=: two rows differing in one column differ', () => {
    const key = claimKeyOf(['tenant_id', 'id'])
    expect(key({ tenant_id: 3, id: 12n })).toBe('["3","12"]')
    expect(key({ tenant_id: 3, id: 12n })).not.toBe(key({ tenant_id: 31, id: 2n }))
    expect(key({ tenant_id: 'a,b', id: 1 })).not.toBe(key({ tenant_id: 'a', id: 'b,1' }))
  })
})
