/**
 * What every handler call of a run shares: the state the module's `setup` returned and
 * the run's arguments. One object per slave, updated when a run begins, so a context
 * reads it without a copy per job.
 */
export interface RunScope {
  state: unknown
  args: Readonly<Record<string, string>>
}

/** A scope before any run began: no state, no arguments. */
export function emptyScope(): RunScope {
  return { state: undefined, args: Object.freeze({}) }
}
