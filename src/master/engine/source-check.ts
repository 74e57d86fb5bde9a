import { SourceCheckError, TaskmasterError } from '../../errors.js'
import type { UserCodeError } from '../../errors.js'
import type { NamedThrottle, ResolvedMasterOptions } from '../../options.js'
import { callUser, isError, messageOf, oneLine, read, typeName } from '../../user-code.js'
import { sourceContext } from './total.js'

/** How long a source's `check` and `throttle` may each take: a database that does not answer is said, not waited for. */
export const SOURCE_CHECK_TIMEOUT_MS = 30_000

/**
 * Whether `value` is a Taskmaster error, of this copy of the package or of another (a jobs
 * module loaded as CommonJS imports a copy of its own): its stable code says so.
 */
function isTaskmasterError(value: unknown): value is TaskmasterError {
  if (value instanceof TaskmasterError) return true
  const code = typeof value === 'object' && value !== null ? read(value, 'code') : undefined
  return isError(value) && typeof code === 'string' && code.startsWith('TM_ERR_')
}

/**
 * Why `what` of the source refused the run, in one line: a Taskmaster error's own message
 * (pgTable's `pgTable: ...` lines), else what was thrown and where, or that it took too long.
 */
function refusal(what: string, error: UserCodeError): SourceCheckError {
  if (isTaskmasterError(error.thrown)) return new SourceCheckError(oneLine(messageOf(error.thrown)))
  return new SourceCheckError(`The jobs source's ${what} ${error.late ? '' : 'threw: '}${error.message}`)
}

/**
 * Opens the run's source (see `JobSource.check` and `JobSource.throttle`): its check, then,
 * for a master given no throttle of its own, the throttle the source asks for. Called once,
 * before the master listens; anything that fails is a {@link SourceCheckError} (exit 2),
 * so a wrong table or a missing argument stops the run before its first job.
 */
export async function openSource(
  options: Pick<ResolvedMasterOptions, 'source' | 'args' | 'shard' | 'throttle'>,
  ms = SOURCE_CHECK_TIMEOUT_MS,
): Promise<NamedThrottle | undefined> {
  const { source } = options
  const ctx = sourceContext(options)
  const call = async <T>(what: string, fn: () => T | PromiseLike<T>): Promise<Awaited<T>> => {
    try {
      return await callUser(fn, ms, source.module)
    } catch (error) {
      throw refusal(what, error as UserCodeError)
    }
  }
  const { check, throttle } = source
  if (check !== undefined) await call('check()', () => check(ctx))
  if (options.throttle !== undefined || throttle === undefined) return undefined
  const asked = await call('throttle()', () => throttle(ctx))
  if (asked === undefined || asked === null) return undefined
  if (typeof asked === 'function') return { check: asked, name: asked.name || 'throttle' }
  if (typeof asked === 'object' && typeof asked.check === 'function' && typeof asked.name === 'string') return asked
  throw new SourceCheckError(
    `The jobs source's throttle() returned ${typeName(asked)}; it must return a throttle check ({ args, signal }) => false | true | reason, { check, name }, or undefined`,
  )
}
