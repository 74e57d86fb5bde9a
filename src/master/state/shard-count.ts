import { CheckpointError } from '../../errors.js'
import { SHARD_ARG, parseShard, shardSuffix, shardText } from '../../shard.js'

/**
 * How a run takes its key's jobs: `base` is the key the user gave (without the shard's
 * suffix), `count` the shard count and `shard` the shard as given (`2/3`), both
 * undefined for a run of the whole key.
 */
export interface ShardCount {
  base: string
  count: number | undefined
  shard: string | undefined
}

const SHARD_KEY = /^\.shard-(\d+)-of-(\d+)$/

/** The key's shard count, from run `key` and its identity arguments (the shard is saved under {@link SHARD_ARG} as `i/n`). */
export function shardCountOf(key: string, args: Record<string, string>): ShardCount {
  const saved = args[SHARD_ARG]
  const shard = saved === undefined ? undefined : parseShard(saved)
  if (shard === undefined) return { base: key, count: undefined, shard: undefined }
  const suffix = shardSuffix(shard)
  return { base: key.endsWith(suffix) ? key.slice(0, -suffix.length) : key, count: shard.count, shard: shardText(shard) }
}

/** The shard count of saved run `run` if it is `base` itself (undefined) or a shard of it; null if it is another run. */
function countOfRun(run: string, base: string): number | undefined | null {
  if (run === base) return undefined
  if (!run.startsWith(base)) return null
  const match = SHARD_KEY.exec(run.slice(base.length))
  return match === null ? null : Number(match[2])
}

/** `sharded in 3` or `not sharded`, for messages. */
const countText = (count: number | undefined): string => (count === undefined ? 'not sharded' : `sharded in ${count}`)

/**
 * Refuses a run whose shard count is not the one its key's saved runs have: the key run
 * whole beside shards, or shards of two counts, take the jobs apart two ways: some are
 * skipped, some run twice, and every master still ends complete (`--shard 1/3`, `2/3`,
 * `4/4` of contiguous slices never run a twelfth of the jobs). `saved` are the runs with
 * state in the store (any that start with `own.base`; others are ignored); `where` says
 * where for the message, `path` for the error (default `where`).
 *
 * Each store calls this once its own run's state is saved (a fresh run's checkpoint is
 * written first): of two first starts at once with different counts, each writes before
 * it looks, so the later look sees the other's state and at most one goes on. The count
 * is thus kept as long as any run of the key has state; once none has, any count starts.
 */
export function refuseOtherShardCount(own: ShardCount, saved: Iterable<string>, where: string, path = where): void {
  const others: { run: string; count: number | undefined }[] = []
  for (const run of saved) {
    const count = countOfRun(run, own.base)
    if (count !== null && count !== own.count) others.push({ run, count })
  }
  if (others.length === 0) return
  others.sort((a, b) => (a.run < b.run ? -1 : 1))
  const { run, count } = others[0]
  const more = others.length > 1 ? ` and ${others.length - 1} more` : ''
  const given = own.shard === undefined ? 'no --shard' : `--shard ${own.shard}`
  const use = count === undefined ? 'no --shard' : `--shard i/${count}`
  throw new CheckpointError(
    `Run '${own.base}' is ${countText(count)} (saved: '${run}'${more}, in ${where}) but is now given ${given}: ` +
      `a key's shards must all have one count, or jobs are skipped or run twice. Use ${use}, or another --key`,
    path,
  )
}
