import { OptionError } from './errors.js'

/**
 * Which of `count` masters sharing one dataset this one is: `index` from 1 to `count`
 * (`--shard 2/3`). Part of the run's identity: the key gets {@link shardSuffix}, and the
 * shard is saved with the arguments, so a run is never resumed as another shard.
 */
export interface Shard {
  index: number
  count: number
}

/** Most shards of one dataset: far beyond any fleet of masters, small enough for SQL. */
export const MAX_SHARDS = 1_000_000

/** The name under which the shard is saved with the run's arguments (refused as a user's argument name). */
export const SHARD_ARG = '@shard'

/** Checks an options.shard value; throws an {@link OptionError} naming it. */
export function checkShard(value: Shard, name = 'shard'): void {
  const { index, count } = (value ?? {}) as Partial<Shard>
  if (!Number.isSafeInteger(count) || count! < 1 || count! > MAX_SHARDS || !Number.isSafeInteger(index) || index! < 1 || index! > count!) {
    throw new OptionError(
      `options.${name} must be { index, count } with 1 <= index <= count <= ${MAX_SHARDS}, got ${JSON.stringify(value)}`,
      name,
    )
  }
}

/** `i/n` as typed on the command line, into a shard; undefined if it is not one. */
export function parseShard(text: string): Shard | undefined {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text)
  const shard = match ? { index: Number(match[1]), count: Number(match[2]) } : undefined
  return shard === undefined || shard.index < 1 || shard.index > shard.count || shard.count > MAX_SHARDS ? undefined : shard
}

/** What the run key gets: `.shard-2-of-3`. */
export const shardSuffix = (shard: Shard): string => `.shard-${shard.index}-of-${shard.count}`

/** The shard as saved with the arguments and shown in messages: `2/3`. */
export const shardText = (shard: Shard): string => `${shard.index}/${shard.count}`

/** The arguments saved as the run's identity: the user's, plus the shard under {@link SHARD_ARG}. */
export function identityArgs(args: Record<string, string>, shard: Shard | undefined): Record<string, string> {
  return shard === undefined ? args : { ...args, [SHARD_ARG]: shardText(shard) }
}

/**
 * The shard's contiguous slice `[from, to)` of `total` items numbered from 0: the first
 * `total mod count` shards get one item more. Contiguous, so each master walks its own
 * part of the key space (its own pages of the index), and stable for a given total.
 */
export function shardSlice(total: bigint, shard: Shard): { from: bigint; to: bigint } {
  const n = BigInt(shard.count)
  const i = BigInt(shard.index - 1)
  return { from: (total * i) / n, to: (total * (i + 1n)) / n }
}

/** Whether integer key `key` belongs to the shard: `key mod count = index - 1` (for negative keys too). */
export function inShard(key: number | bigint, shard: Shard): boolean {
  if (typeof key === 'bigint') {
    const n = BigInt(shard.count)
    return ((key % n) + n) % n === BigInt(shard.index - 1)
  }
  const n = shard.count
  return ((key % n) + n) % n === shard.index - 1
}
