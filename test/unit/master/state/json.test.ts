import { describe, expect, it } from 'vitest'
import { parse, stringify } from '../../../../src/master/state/json.js'

describe('json', () => {
  it('writes bigints as {"$bigint": "..."}', () => {
    expect(stringify({ a: 1n, b: [-(2n ** 70n)], c: 'x' })).toBe(
      '{"a":{"$bigint":"1"},"b":[{"$bigint":"-1180591620717411303424"}],"c":"x"}',
    )
  })

  it('indents when asked', () => {
    expect(stringify({ a: 1 }, 1)).toBe('{\n "a": 1\n}')
  })

  it('reads bigints back, with their type', () => {
    const value = {
      last: 2n ** 64n,
      finished: [
        [1, 5n],
        [2, 5],
      ],
      nested: { deep: -3n },
    }
    const back = parse(stringify(value)) as typeof value
    expect(back).toEqual(value)
    expect(typeof back.finished[0][1]).toBe('bigint')
    expect(typeof back.finished[1][1]).toBe('number')
  })

  it('leaves objects that only look like bigints alone', () => {
    expect(parse('{"$bigint":"1","x":2}')).toEqual({ $bigint: '1', x: 2 })
    expect(parse('{"$bigint":5}')).toEqual({ $bigint: 5 })
    expect(parse('[{"$bigint":"7"}]')).toEqual([7n])
  })

  it('parses plain JSON as JSON.parse does', () => {
    expect(parse('{"a":[1,"b",null,true]}')).toEqual({ a: [1, 'b', null, true] })
    expect(() => parse('{')).toThrow(SyntaxError)
  })
})
