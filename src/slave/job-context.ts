import type { HandlerContext, RunInfo } from '../options.js'
import type { RunScope } from './run-scope.js'
import { emptyScope } from './run-scope.js'

/**
 * The handler's second argument. A lane runs one job at a time, so it keeps one
 * context and reuses it job after job (no allocation per job); the AbortController
 * behind `signal` is only made when a handler asks for it.
 */
export class JobContext implements HandlerContext {
  attempt = 1
  /** Seq of the job running in this lane, or -1 between jobs. */
  seq = -1
  #controller: AbortController | undefined
  /** Why the job was aborted before the handler first read `signal`. */
  #reason: Error | undefined
  readonly #scope: RunScope

  constructor(scope: RunScope = emptyScope()) {
    this.#scope = scope
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

  /** Aborted when the master takes the job back (`--job-timeout`): stop the work it started. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Starts attempt `attempt` of job `seq`. */
  begin(seq: number, attempt: number): void {
    this.seq = seq
    this.attempt = attempt
    this.#controller = undefined
    this.#reason = undefined
  }

  /** The job ended. */
  end(): void {
    this.seq = -1
  }

  /** Aborts the signal of the running job (now, or when the handler first reads it). */
  abort(reason: Error): void {
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}
