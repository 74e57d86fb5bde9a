import { describe, expect, it } from 'vitest'
import { codeOf, isPassing } from '../../../src/pg/pg-errors.js'

const withCode = (code: string): Error => Object.assign(new Error(code), { code })

describe('isPassing', () => {
  it('a refused, reset or lost connection, a server shutting down or starting up, a deadlock: tried again', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'EPIPE',
      'ETIMEDOUT',
      '57P01',
      '57P02',
      '57P03',
      '08006',
      '08001',
      '40001',
      '40P01',
      '53300',
    ])
      expect(isPassing(withCode(code)), code).toBe(true)
    expect(isPassing(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isPassing(new Error('Client has encountered a connection error and is not queryable'))).toBe(true)
  })

  it("the user's mistakes and the database's refusals are not: a syntax error, a missing column, a duplicate key, no permission", () => {
    for (const code of ['42601', '42703', '23505', '42501', '42P01', 'ENOTFOUND']) expect(isPassing(withCode(code)), code).toBe(false)
    expect(isPassing(new Error('boom'))).toBe(false)
    expect(isPassing(undefined)).toBe(false)
    expect(isPassing('Connection terminated')).toBe(false)
  })
})

describe('codeOf', () => {
  it('is the SQLSTATE or Node code of an error, if any', () => {
    expect(codeOf(withCode('23505'))).toBe('23505')
    expect(codeOf(new Error('x'))).toBeUndefined()
    expect(codeOf(null)).toBeUndefined()
    expect(codeOf(Object.assign(new Error('x'), { code: 5 }))).toBeUndefined()
  })
})
