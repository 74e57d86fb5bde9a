import { describeThrown, isError } from '../../user-code.js'

/** Opened, not listening yet. */
export const READY = 'ready'
/** Jobs go out. */
export const RUNNING = 'running'
/** Stopping: no new jobs, waiting for the jobs in flight. */
export const DRAINING = 'draining'
/** Closed (or closing): run() settles. */
export const FINISHED = 'finished'

/** Where a run is in its life, one of the constants above. */
export type RunPhase = typeof READY | typeof RUNNING | typeof DRAINING | typeof FINISHED

/** How a run ends. */
export type Ending = 'complete' | 'stopped'

/**
 * What a stop asks the run to do: `deferred` (not listening yet: it stops as soon as it
 * listens), `drain` (no new jobs; wait for those in flight), `end-now` (the second stop:
 * close at once, the jobs in flight run again on resume), `nothing` (it has ended).
 */
export type StopAction = 'deferred' | 'drain' | 'end-now' | 'nothing'

/**
 * What an error that stops the run asks of it. The first error is kept (run() rejects
 * with it) and said in the log: `drain` (it was running), `settle` (it was draining: end
 * if nothing is in flight), `kept` (not listening yet, or closing: nothing more to do
 * now). A later error: `end-now` while draining (the jobs in flight could never be
 * recorded: a full disk fails every write, so waiting for them would wait for ever),
 * else `nothing`.
 */
export type AbortAction = 'drain' | 'settle' | 'kept' | 'end-now' | 'nothing'

/**
 * The life of one run, and its one owner: the phase (ready, running, draining, finished),
 * a stop asked before it listened, and the first error that stopped it. Pure: each
 * transition is a method that changes the state and says what the run must do; the run
 * does it. The phase becomes `finished` only through a method that answers an ending, so
 * a run ends once.
 */
export class RunLifecycle {
  #phase: RunPhase = READY
  /** stop() was called before the run listened. */
  #stopDeferred = false
  /** The first error that stopped the run: what run() rejects with. */
  #error: Error | undefined

  get phase(): RunPhase {
    return this.#phase
  }

  /** The first error that stopped the run, if any. */
  get error(): Error | undefined {
    return this.#error
  }

  /** Listening: running or draining (checkpoints, status documents and timeouts go on). */
  get live(): boolean {
    return this.#phase === RUNNING || this.#phase === DRAINING
  }

  /**
   * The run listens: jobs go out. Returns true when a stop was asked before: the run
   * stops (gracefully) once it has started.
   */
  listening(): boolean {
    if (this.#phase !== READY) return false
    this.#phase = RUNNING
    return this.#stopDeferred
  }

  /** A stop: graceful the first time, at once the second. */
  stop(): StopAction {
    switch (this.#phase) {
      case READY:
        this.#stopDeferred = true
        return 'deferred'
      case RUNNING:
        this.#phase = DRAINING
        return 'drain'
      case DRAINING:
        this.#phase = FINISHED
        return 'end-now'
      case FINISHED:
        return 'nothing'
      default:
        return unreachable(this.#phase)
    }
  }

  /**
   * Something finished (jobs, the generator, a stop): how the run ends now, if it does.
   * Running, it is complete once every job is finished (`allFinished`: the generator is
   * exhausted and the window idle); draining, it is stopped once nothing is in flight.
   */
  settle(allFinished: boolean, inFlight: number): Ending | undefined {
    if (this.#phase === RUNNING && allFinished) {
      this.#phase = FINISHED
      return 'complete'
    }
    if (this.#phase === DRAINING && inFlight === 0) {
      this.#phase = FINISHED
      return 'stopped'
    }
    return undefined
  }

  /**
   * An error that stops the run (see {@link AbortAction}). Whatever was thrown, the error
   * kept is an Error (describing it never throws).
   */
  abort(error: unknown): AbortAction {
    if (this.#error !== undefined) {
      if (this.#phase !== DRAINING) return 'nothing'
      this.#phase = FINISHED
      return 'end-now'
    }
    this.#error = isError(error) ? error : new Error(describeThrown(error))
    switch (this.#phase) {
      case RUNNING:
        this.#phase = DRAINING
        return 'drain'
      case DRAINING:
        return 'settle'
      case READY:
      case FINISHED:
        return 'kept'
      default:
        return unreachable(this.#phase)
    }
  }
}

/** A phase the switches above forgot: caught at compile time. */
function unreachable(phase: never): never {
  throw new Error(`Unknown run phase ${String(phase)}`)
}
