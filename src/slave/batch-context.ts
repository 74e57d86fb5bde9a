import type { BatchContext, RunInfo } from '../options.js'
import type { RunScope } from './run-scope.js'

/**
 * The second argument of a batch handler: one per batch a lane runs (its halves, when a
 * batch is split, share it). The AbortController behind `signal` is only made when a
 * handler asks for it.
 */
export class BatchRunContext implements BatchContext {
  /** The attempts of the jobs of the call running now. */
  attempts: readonly number[] = []
  /** The seqs of the jobs of the call running now. */
  seqs: readonly number[] = []
  #controller: AbortController | undefined
  #reason: Error | undefined
  readonly #scope: RunScope

  constructor(scope: RunScope) {
    this.#scope = scope
  }

  /** Aborted when the call runs past `--job-timeout` (the slave splits its jobs and runs them again), or the master takes a job of it back. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** What the module's `setup` returned. */
  get state(): any {
    return this.#scope.state
  }

  /** The run's `name=value` arguments. */
  get args(): Readonly<Record<string, string>> {
    return this.#scope.args
  }

  /** The run, as its master said. */
  get run(): RunInfo {
    return this.#scope.info
  }

  /** Aborts the signal (now, or when the handler first reads it). */
  abort(reason: Error): void {
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}
