import { describe, expect, it } from 'vitest'
import { JobSourceError } from '../../../src/errors.js'
import { decodeTuple, encodeTuple } from '../../../src/pg/tuple-key.js'

const COLUMNS = ['tenant', 'id']

/** The key of a row holding `values` in COLUMNS (and a column that is not part of the key). */
const encode = (values: readonly unknown[]): string =>
  encodeTuple({ note: 'not a key column', ...Object.fromEntries(COLUMNS.map((column, i) => [column, values[i]])) }, COLUMNS)

describe('composite keys', () => {
  it('are the JSON array of the values, int8 (and bigint) values as their digits', () => {
    expect(encode(['acme', '9007199254740993'])).toBe('["acme","9007199254740993"]')
    expect(encode([7, 2n ** 63n - 1n])).toBe('[7,"9223372036854775807"]')
    expect(encode([true, -1.5])).toBe('[true,-1.5]')
  })

  it('come back as the values they were made of, whatever the strings hold', () => {
    const tuples: unknown[][] = [
      ['a "quoted", value', '1'],
      ['comma,comma', 'bracket]["'],
      ['back\\slash\\"', 'new\nline\ttab'],
      ['ünïcødé ✓ 🎉', ''],
      [-42, '-9223372036854775808'],
      [0, false],
    ]
    for (const values of tuples) {
      const key = encode(values)
      expect(decodeTuple(key, COLUMNS)).toEqual(values)
      // Canonical: the key of a key's values is the key itself.
      expect(encode(decodeTuple(key, COLUMNS))).toBe(key)
    }
    // A bigint comes back as its exact digits, as pg takes an int8 parameter.
    expect(decodeTuple(encode([1, 2n ** 64n]), COLUMNS)).toEqual([1, '18446744073709551616'])
  })

  it('refuse a row whose key column is NULL or of a type that cannot come back as it was', () => {
    expect(() => encode(['acme', null])).toThrow(
      new JobSourceError(
        'pgTable: key column id of a row is NULL (or not selected); each column of a composite key must be a NOT NULL integer, text or boolean column',
      ),
    )
    expect(() => encode([undefined, 1])).toThrow(/^pgTable: key column tenant of a row is NULL \(or not selected\)/)
    expect(() => encode([new Date(0), 1])).toThrow(/^pgTable: key column tenant of a row is an object;/)
    expect(() => encode([NaN, 1])).toThrow(/^pgTable: key column tenant of a row is NaN;/)
  })

  it('refuse to resume after what is not one of their keys, in one line', () => {
    const refusal = (shown: string): JobSourceError =>
      new JobSourceError(
        `pgTable: cannot resume after key ${shown}: it is not a key of (tenant, id) (a JSON array of 2 values); was the run started with another key? Give it another --key, or --reset it`,
      )
    expect(() => decodeTuple(42, COLUMNS)).toThrow(refusal('42'))
    expect(() => decodeTuple(42n, COLUMNS)).toThrow(refusal('42'))
    expect(() => decodeTuple('acme', COLUMNS)).toThrow(refusal("'acme'"))
    expect(() => decodeTuple('["acme"]', COLUMNS)).toThrow(refusal(`'["acme"]'`))
    expect(() => decodeTuple('["acme",[1]]', COLUMNS)).toThrow(refusal(`'["acme",[1]]'`))
    expect(() => decodeTuple('{"0":1,"1":2}', COLUMNS)).toThrow(refusal(`'{"0":1,"1":2}'`))
    const long = `["${'x'.repeat(500)}\n",1,2]`
    const message = (() => {
      try {
        decodeTuple(long, COLUMNS)
      } catch (error) {
        return (error as Error).message
      }
    })()
    expect(message).not.toContain('\n')
    expect(message!.length).toBeLessThan(300)
  })
})
