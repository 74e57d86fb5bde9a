import { describe, expect, it } from 'vitest'
import { CheckpointError } from '../../../../src/errors.js'
import { refuseOtherShardCount, shardCountOf } from '../../../../src/master/state/shard-count.js'
import { identityArgs } from '../../../../src/shard.js'
import { thrownBy } from '../../support.js'

const RULE = ": a key's shards must all have one count, or jobs are skipped or run twice"

describe('shardCountOf', () => {
  it('reads the base key and the count from the run key and its identity arguments', () => {
    expect(shardCountOf('posts.shard-2-of-3', identityArgs({ a: '1' }, { index: 2, count: 3 }))).toEqual({
      base: 'posts',
      count: 3,
      shard: '2/3',
    })
    expect(shardCountOf('posts', { a: '1' })).toEqual({ base: 'posts', count: undefined, shard: undefined })
    // A retry pass of a shard is a run of its own, not sharded.
    expect(shardCountOf('posts.shard-2-of-3.retry', { 'retry-log': 'x' })).toEqual({
      base: 'posts.shard-2-of-3.retry',
      count: undefined,
      shard: undefined,
    })
  })
})

describe('refuseOtherShardCount', () => {
  const shard = (index: number, count: number) => shardCountOf(`k.shard-${index}-of-${count}`, identityArgs({}, { index, count }))
  const whole = shardCountOf('k', {})
  const refusal = (own: ReturnType<typeof shardCountOf>, saved: string[]): string =>
    thrownBy(() => refuseOtherShardCount(own, saved, "'/state'"), CheckpointError).message

  it('lets shards of one count, the whole key alone, and runs of other keys go', () => {
    expect(() => refuseOtherShardCount(shard(3, 3), ['k.shard-1-of-3', 'k.shard-2-of-3', 'k.shard-3-of-3'], 'x')).not.toThrow()
    expect(() =>
      refuseOtherShardCount(whole, ['k', 'k.retry', 'kk.shard-1-of-2', 'k.shard-1-of-2x', 'k.shard-1-of-2.retry', 'other'], 'x'),
    ).not.toThrow()
    expect(() =>
      refuseOtherShardCount(shard(1, 2), ['k.shard-1-of-2', 'k.shard-2-of-2.retry', 'k.retry', 'kk', 'k2.shard-1-of-3'], 'x'),
    ).not.toThrow()
    expect(() => refuseOtherShardCount(shard(1, 2), [], 'x')).not.toThrow()
  })

  it('refuses another count, naming the key, both counts, what was saved and what to do', () => {
    expect(refusal(shard(4, 4), ['k.shard-2-of-3', 'k.shard-1-of-3', 'k.shard-4-of-4'])).toBe(
      `Run 'k' is sharded in 3 (saved: 'k.shard-1-of-3' and 1 more, in '/state') but is now given --shard 4/4${RULE}. Use --shard i/3, or another --key`,
    )
    expect(refusal(shard(1, 4), ['k.shard-1-of-3'])).toBe(
      `Run 'k' is sharded in 3 (saved: 'k.shard-1-of-3', in '/state') but is now given --shard 1/4${RULE}. Use --shard i/3, or another --key`,
    )
  })

  it('refuses the whole key beside shards, and shards beside the whole key', () => {
    expect(refusal(whole, ['k.shard-2-of-2'])).toBe(
      `Run 'k' is sharded in 2 (saved: 'k.shard-2-of-2', in '/state') but is now given no --shard${RULE}. Use --shard i/2, or another --key`,
    )
    expect(refusal(shard(1, 2), ['k', 'k.shard-1-of-2'])).toBe(
      `Run 'k' is not sharded (saved: 'k', in '/state') but is now given --shard 1/2${RULE}. Use no --shard, or another --key`,
    )
  })

  it('a key whose name looks like a key of shards is a key of its own', () => {
    expect(() => refuseOtherShardCount(shardCountOf('a.b', {}), ['a.b.shard-1-of-2'], 'x')).toThrow(CheckpointError)
    expect(() => refuseOtherShardCount(shardCountOf('a', {}), ['a.b.shard-1-of-2'], 'x')).not.toThrow()
  })
})
