import { describe, expect, it } from 'vitest'
import { OptionError } from '../../src/errors.js'
import { resolveMasterOptions } from '../../src/options.js'
import { identityArgs, inShard, parseShard, shardSlice } from '../../src/shard.js'
import { idRanges } from '../../src/sources/id-ranges.js'
import { keyset } from '../../src/sources/keyset.js'

const source = { getJobs: function* () {} }

describe('shards', () => {
  it('parses i/n and refuses anything else', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 })
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 })
    for (const bad of ['0/3', '4/3', '1/0', '1', '1/2/3', 'a/b', '-1/3', '1.5/3']) expect(parseShard(bad), bad).toBeUndefined()
  })

  it('contiguous slices cover 0..total-1 exactly once, in order, within one of equal', () => {
    for (const total of [0n, 1n, 2n, 7n, 1000n, 1001n]) {
      for (const count of [1, 2, 3, 7]) {
        let next = 0n
        for (let index = 1; index <= count; index++) {
          const { from, to } = shardSlice(total, { index, count })
          expect(from).toBe(next)
          expect(to - from <= total / BigInt(count) + 1n).toBe(true)
          next = to
        }
        expect(next).toBe(total)
      }
    }
  })

  it('key mod n picks exactly one shard of every integer key, negative and bigint too', () => {
    for (const key of [-7, -1, 0, 1, 2, 5, 2 ** 53 - 1]) {
      expect(
        [1, 2, 3].filter((index) => inShard(key, { index, count: 3 })),
        String(key),
      ).toHaveLength(1)
      expect([1, 2, 3].filter((index) => inShard(BigInt(key), { index, count: 3 }))).toEqual(
        [1, 2, 3].filter((index) => inShard(key, { index, count: 3 })),
      )
    }
    expect(inShard(4, { index: 2, count: 3 })).toBe(true)
    expect(inShard(-1, { index: 3, count: 3 })).toBe(true)
  })

  it('the key gets the shard as a suffix and the shard is saved with the args; @shard is not a user argument', () => {
    const o = resolveMasterOptions({ source, key: 'posts', shard: { index: 1, count: 3 } })
    expect(o.key).toBe('posts.shard-1-of-3')
    expect(resolveMasterOptions(o).key).toBe('posts.shard-1-of-3')
    expect(identityArgs({ a: '1' }, o.shard)).toEqual({ a: '1', '@shard': '1/3' })
    expect(identityArgs({ a: '1' }, undefined)).toEqual({ a: '1' })
    expect(() => resolveMasterOptions({ source, shard: { index: 4, count: 3 } })).toThrow(
      new OptionError('options.shard must be { index, count } with 1 <= index <= count <= 1000000, got {"index":4,"count":3}', 'shard'),
    )
    expect(() => resolveMasterOptions({ source, args: { '@shard': '1/2' } })).toThrow(/options\.args must not name an argument '@shard'/)
    expect(() => resolveMasterOptions({ source, key: 'k'.repeat(125), shard: { index: 1, count: 2 } })).toThrow(/run key/)
  })

  it('idRanges: three shards yield contiguous slices of the ranges, together every range once, and each resumes within its slice', () => {
    const ranges = idRanges({ min: 10, max: 109, width: 7 }) // 15 ranges: 5 a shard
    const whole = [...ranges.getJobs(undefined, { position: 0, args: {} })]
    const parts = [1, 2, 3].map((index) => [...ranges.getJobs(undefined, { position: 0, args: {}, shard: { index, count: 3 } })])
    expect(parts.map((p) => p.length)).toEqual([5, 5, 5])
    expect(parts.flat()).toEqual(whole)
    expect(parts[2].at(-1)).toEqual({ from: 108, to: 109 })
    const shard = { index: 2, count: 3 }
    expect([...ranges.getJobs(parts[1][1].from, { position: 2, args: {}, shard })]).toEqual(parts[1].slice(2))
    expect([...ranges.getJobs(parts[1][4].from, { position: 5, args: {}, shard })]).toEqual([])
  })

  it('keyset: a shard keeps the rows whose key mod n is its index - 1, passes the shard to fetchPage, and refuses string keys', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({ id: i * 5 }))
    const seen: unknown[] = []
    const source = keyset({
      pageSize: 3,
      fetchPage: (after, limit, shard) => {
        seen.push(shard)
        return rows.filter((row) => after === undefined || row.id > (after as number)).slice(0, limit)
      },
    })
    const ids = async (index: number, last?: number): Promise<number[]> => {
      const out: number[] = []
      for await (const row of source.getJobs(last, { position: 0, args: {}, shard: { index, count: 3 } })) out.push(row.id)
      return out
    }
    const parts = [await ids(1), await ids(2), await ids(3)]
    expect(parts[1]).toEqual([10, 25, 40, 55, 70, 85])
    expect(parts.flat().sort((a, b) => a - b)).toEqual(rows.map((row) => row.id))
    expect(await ids(2, 40)).toEqual([55, 70, 85])
    expect(seen).toContainEqual({ index: 2, count: 3 })
    const strings = keyset({ fetchPage: (after) => (after === undefined ? [{ id: 'a' }] : []) })
    const it = strings.getJobs(undefined, { position: 0, args: {}, shard: { index: 1, count: 2 } })
    await expect(it.next()).rejects.toThrow(
      'keyset: a sharded run (--shard) needs integer keys (shard i of n takes the keys whose value mod n is i - 1), got key "a"',
    )
  })
})
