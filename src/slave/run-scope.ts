import type { RunInfo } from '../options.js'

/** The run as the slave's current master said it: mutable here, read-only to handlers. */
export interface RunNow {
  key: string | undefined
  id: string | undefined
  incarnation: string
  durable: number
}

/**
 * What every handler call of a run shares: the state the module's `setup` returned, the
 * run's arguments and the run as its master said it. One object per slave, updated when a
 * run begins (and `run` at each welcome and durable message), so a context reads it
 * without a copy per job.
 */
export interface RunScope {
  state: unknown
  args: Readonly<Record<string, string>>
  readonly run: RunNow
  /** What handlers read of {@link run}: getters, so it follows the changes and cannot be written. */
  readonly info: RunInfo
}

/** A scope before any run began: no state, no arguments, no master. */
export function emptyScope(): RunScope {
  const run: RunNow = { key: undefined, id: undefined, incarnation: '', durable: 0 }
  return { state: undefined, args: Object.freeze({}), run, info: runInfo(run) }
}

/** The handlers' view of `run`. */
function runInfo(run: RunNow): RunInfo {
  return Object.freeze({
    get key() {
      return run.key
    },
    get id() {
      return run.id
    },
    get incarnation() {
      return run.incarnation
    },
    get durable() {
      return run.durable
    },
  })
}
