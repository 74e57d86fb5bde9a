import { describe, expect, it } from 'vitest'
import { isTransient } from '../../../../../src/master/state/pg/client.js'

describe('isTransient', () => {
  it('is true for a statement rolled back by a deadlock, a serialization failure, a lock or statement timeout', () => {
    for (const code of ['40P01', '40001', '55P03', '57014']) expect(isTransient(Object.assign(new Error('x'), { code }))).toBe(true)
  })

  it('is false for a lost connection, an unknown outcome, a user error, or no SQLSTATE at all', () => {
    // 40003: statement_completion_unknown (it may have committed); 57P01: the session was ended.
    for (const code of ['40003', '57P01', '23505', '42P01', 'ECONNRESET', 42])
      expect(isTransient(Object.assign(new Error('x'), { code }))).toBe(false)
    for (const error of [new Error('Connection terminated unexpectedly'), null, undefined, 'deadlock'])
      expect(isTransient(error)).toBe(false)
  })
})
