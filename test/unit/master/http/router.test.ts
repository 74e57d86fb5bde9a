import { describe, expect, it } from 'vitest'
import { requestTarget } from '../../../../src/master/engine/answers.js'

describe('requestTarget', () => {
  it('reads a path as a path of the master, never as an address', () => {
    const read = (raw: string): string | undefined => {
      const url = requestTarget(raw)
      return url && `${url.host}${url.pathname}${url.search}`
    }
    expect(read('/status')).toBe('master/status')
    expect(read('/status?token=a%2Bb')).toBe('master/status?token=a%2Bb')
    expect(read('//x:99999/')).toBe('master//x:99999/')
    expect(read('/./status')).toBe('master/status')
    expect(read('http://elsewhere:1/status?x')).toBe('master/status?x')
    // A query is taken as sent: a bad escape in it is left to the route (the token compare fails).
    expect(read('/status?token=%E0%A4%A')).toBe('master/status?token=%E0%A4%A')
  })

  it('gives nothing for a target that is no path', () => {
    for (const raw of [
      '//[',
      '//[/stop',
      '/%zz',
      '/status%',
      '/%E',
      '*',
      '',
      'status',
      '\\status',
      '/a[b]',
      '/a b',
      '/a#b',
      'http://[/status',
      'ftp://x/status',
    ])
      expect(requestTarget(raw), raw).toBeUndefined()
    expect(requestTarget(undefined)).toBeUndefined()
  })
})
