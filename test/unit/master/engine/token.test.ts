import { describe, expect, it } from 'vitest'
import { generateToken, isLoopback, tokenMatches } from '../../../../src/master/engine/token.js'

describe('token', () => {
  it('matches only the same token', () => {
    expect(tokenMatches('secret', 'secret')).toBe(true)
    expect(tokenMatches('secret', 'Secret')).toBe(false)
    expect(tokenMatches('secret', 'secret-longer')).toBe(false)
    expect(tokenMatches('secret', '')).toBe(false)
    expect(tokenMatches('secret', undefined)).toBe(false)
  })

  it('generates distinct url-safe tokens of 24 characters', () => {
    const a = generateToken()
    expect(a).toMatch(/^[A-Za-z0-9_-]{24}$/)
    expect(generateToken()).not.toBe(a)
  })

  it('knows loopback addresses', () => {
    for (const host of ['localhost', '::1', '127.0.0.1', '127.1.2.3']) expect(isLoopback(host)).toBe(true)
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) expect(isLoopback(host)).toBe(false)
  })
})
