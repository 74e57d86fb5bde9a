import type { RunEvents } from './types.js'
import type { UserCodeError } from '../../errors.js'
import type { ResolvedMasterOptions, SourceContext } from '../../options.js'
import { callUser, oneLine, read, typeName } from '../../user-code.js'

/** How long `total()` may take: past it the run starts without a total (a progress bar is not worth a stall). */
export const TOTAL_TIMEOUT_MS = 30_000

/** The run's total as the engine keeps it: a count of jobs, and whether the source said it is only an estimate. */
export interface RunTotal {
  count: number
  /** `total()` returned `{ estimate: n }` (a planner's guess, for example), not an exact count. */
  estimate: boolean
}

const WHAT_IT_MUST_BE =
  'it must return a whole number of jobs >= 0 (a number, a bigint or a string of digits, as a count(*) comes back), or { estimate: n } of one'

/** What a source's `total()` and `progress()` are called with: copies of the run's arguments and its shard. */
export function sourceContext(options: Pick<ResolvedMasterOptions, 'args' | 'shard'>): SourceContext {
  return options.shard === undefined ? { args: { ...options.args } } : { args: { ...options.args }, shard: { ...options.shard } }
}

/** The generator's total, if it has a usable one; whatever `total()` does (within `ms`) is a warning at most. */
export async function readTotal(
  options: Pick<ResolvedMasterOptions, 'source' | 'args' | 'shard'>,
  events: RunEvents,
  ms = TOTAL_TIMEOUT_MS,
): Promise<RunTotal | undefined> {
  const total = options.source.total
  const ctx = sourceContext(options)
  let value: unknown
  try {
    value = typeof total === 'function' ? await callUser(() => total(ctx), ms, options.source.module) : total
  } catch (error) {
    events.emit('log', { level: 'warn', message: `total() failed, running without a total: ${(error as UserCodeError).message}` })
    return undefined
  }
  const usable = usableTotal(value)
  if (usable === undefined && value !== undefined && value !== null) {
    events.emit('log', { level: 'warn', message: `total() returned ${describeTotal(value)}, running without a total: ${WHAT_IT_MUST_BE}` })
  }
  return usable
}

/**
 * The total from what `total()` gave: a count of jobs, exact, or `{ estimate: n }` with n
 * a count (the source's guess, such as the planner's rows of a large table).
 */
export function usableTotal(value: unknown): RunTotal | undefined {
  const estimated = estimateOf(value)
  const count = usableCount(estimated ?? value)
  return count === undefined ? undefined : { count, estimate: estimated !== undefined }
}

/** `n` of `{ estimate: n }` (read without trusting the object: its getter may throw), else undefined. */
function estimateOf(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  return read(value, 'estimate')
}

/**
 * A count of jobs: a whole number >= 0 (a fraction rounds up), or a bigint or a string
 * of digits (PostgreSQL drivers return count(*) as text).
 */
function usableCount(value: unknown): number | undefined {
  if (typeof value === 'string') return /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : undefined
  if (typeof value === 'bigint') return value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER
    ? Math.ceil(value)
    : undefined
}

/** What `total()` gave, for the warning: `{ estimate: the string 'abc' }` for a bad estimate. */
export function describeTotal(value: unknown): string {
  const estimated = estimateOf(value)
  return estimated === undefined ? describeCount(value) : `{ estimate: ${describeCount(estimated)} }`
}

function describeCount(value: unknown): string {
  if (typeof value === 'string') return `the string '${oneLine(value, 40)}'`
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  return typeName(value)
}
