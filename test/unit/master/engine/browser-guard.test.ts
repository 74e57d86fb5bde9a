import { describe, expect, it } from 'vitest'
import { browserRefusal, crossOrigin, loopbackName } from '../../../../src/master/engine/browser-guard.js'

describe('browser guard', () => {
  it('knows loopback Host names, with or without a port, and nothing an attacker can name', () => {
    for (const host of [
      'localhost',
      'localhost:8080',
      'LocalHost:1',
      '127.0.0.1',
      '127.0.0.1:80',
      '127.1.2.3:65535',
      '[::1]',
      '[::1]:9000',
      undefined,
    ])
      expect(loopbackName(host), String(host)).toBe(true)
    for (const host of [
      'evil.example',
      'evil.example:8080',
      'localhost.evil.example',
      '127.0.0.1.evil.example',
      '127.0.0.1:',
      '127.0.0.1:x',
      '[::2]:80',
      '[::1',
      '::1',
      '0.0.0.0',
      '',
      ' localhost',
      'localhost:123456',
      '10.0.0.1',
    ])
      expect(loopbackName(host), host).toBe(false)
  })

  it('tells a request from another origin by Sec-Fetch-Site, then Origin against Host', () => {
    const host = '127.0.0.1:8080'
    expect(crossOrigin({ host })).toBe(false)
    expect(crossOrigin({ host, 'sec-fetch-site': 'same-origin' })).toBe(false)
    expect(crossOrigin({ host, 'sec-fetch-site': 'none' })).toBe(false)
    expect(crossOrigin({ host, origin: 'http://127.0.0.1:8080' })).toBe(false)
    expect(crossOrigin({ host: 'localhost', origin: 'http://localhost:80' })).toBe(false)
    for (const site of ['same-site', 'cross-site', 'bogus']) expect(crossOrigin({ host, 'sec-fetch-site': site }), site).toBe(true)
    for (const origin of ['http://127.0.0.2:8080', 'http://127.0.0.1:8081', 'null', 'garbage', 'http://['])
      expect(crossOrigin({ host, origin }), origin).toBe(true)
    expect(crossOrigin({ origin: 'http://127.0.0.1:8080' })).toBe(true)
    expect(crossOrigin({ host: '[', origin: 'http://127.0.0.1:8080' })).toBe(true)
    expect(crossOrigin({ host, origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'cross-site' })).toBe(true)
  })

  it('refuses only on a master without a token: a foreign Host on loopback, a cross-origin request that acts', () => {
    const open = { hasToken: false, loopback: true }
    expect(browserRefusal({ host: 'evil.example' }, false, open)).toMatch(/answers only to loopback names/)
    expect(browserRefusal({ host: 'localhost', origin: 'http://evil.example' }, false, open)).toBeUndefined()
    expect(browserRefusal({ host: 'localhost', origin: 'http://evil.example' }, true, open)).toMatch(
      /takes controls only from its own page/,
    )
    expect(browserRefusal({ host: 'localhost' }, true, open)).toBeUndefined()
    // Beyond loopback (slaves connect by any name or address), and with a token: the token is the proof.
    expect(browserRefusal({ host: '10.0.0.5:8080' }, true, { hasToken: false, loopback: false })).toBeUndefined()
    expect(
      browserRefusal({ host: 'evil.example', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }, true, {
        hasToken: true,
        loopback: true,
      }),
    ).toBeUndefined()
  })
})
