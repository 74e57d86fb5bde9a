import { SetupError } from '../errors.js'
import type { UserCodeError } from '../errors.js'
import type { HandlerLifecycle } from '../options.js'
import { callUser } from '../user-code.js'
import type { RunScope } from './run-scope.js'

/** No run set up. */
const IDLE = 'idle'
/** `setup` ran for the run whose arguments are in the scope. */
const ACTIVE = 'active'
type State = typeof IDLE | typeof ACTIVE

/** How long `setup` and `teardown` may take, and the module they are from (named when one does not finish). */
export interface LifecycleDeadline {
  ms: number
  module?: string
}

/**
 * A handler module's `setup` / `teardown` around the runs a slave process serves.
 * `setup` runs before the first job of a run (with the run's arguments from the
 * welcome, the slave's concurrency and batch size); `teardown` at the end of the run
 * (the master's `end`: `ctx.complete`) and when the slave stops. A master restart within a run (same
 * arguments) keeps the state; a long-lived slave (--reconnect 0) welcomed by a run with
 * other arguments tears down and sets up again. Steps run one after the other.
 */
export class Lifecycle {
  readonly #hooks: HandlerLifecycle
  readonly #scope: RunScope
  readonly #concurrency: number
  readonly #batch: number
  readonly #deadline: LifecycleDeadline
  #state: State = IDLE
  /** The last step begun: the next one waits for it. */
  #chain: Promise<void> = Promise.resolve()

  constructor(hooks: HandlerLifecycle, scope: RunScope, concurrency: number, batch: number, deadline: LifecycleDeadline) {
    this.#hooks = hooks
    this.#deadline = deadline
    this.#scope = scope
    this.#concurrency = concurrency
    this.#batch = batch
  }

  /**
   * Makes sure the run with `args` is set up; rejects with a {@link SetupError} of one line
   * if `setup` throws or does not finish in time.
   */
  begin(args: Readonly<Record<string, string>>): Promise<void> {
    return this.#then(async () => {
      if (this.#state === ACTIVE && sameArgs(this.#scope.args, args)) return
      if (this.#state === ACTIVE) {
        try {
          await this.#teardown(false)
        } catch (error) {
          throw new SetupError(`The handler's teardown of the last run failed: ${(error as UserCodeError).message}`)
        }
      }
      const frozen = Object.freeze({ ...args })
      const setup = this.#hooks.setup
      let state: unknown
      if (setup !== undefined) {
        const ctx = { args: frozen, concurrency: this.#concurrency, batch: this.#batch }
        try {
          state = await this.#call(() => setup(ctx))
        } catch (error) {
          const { message, late } = error as UserCodeError
          throw new SetupError(`The handler's setup failed: ${message}${late ? '; raise --setup-timeout if it needs longer' : ''}`)
        }
      }
      this.#scope.state = state
      this.#scope.args = frozen
      this.#state = ACTIVE
    })
  }

  /**
   * Tears the run down if it is set up (a `teardown` that throws or does not finish is
   * reported to `warn`, not thrown); `complete`: the master said the run is complete.
   */
  end(warn: (message: string) => void, complete = false): Promise<void> {
    return this.#then(async () => {
      if (this.#state !== ACTIVE) return
      try {
        await this.#teardown(complete)
      } catch (error) {
        warn(`The handler's teardown failed: ${(error as UserCodeError).message}`)
      }
    })
  }

  async #teardown(complete: boolean): Promise<void> {
    const state = this.#scope.state
    this.#state = IDLE
    this.#scope.state = undefined
    const teardown = this.#hooks.teardown
    const ctx = { complete, run: this.#scope.info }
    if (teardown !== undefined) await this.#call(() => teardown(state, ctx))
  }

  /** A call of `setup` or `teardown`: rejects with a one-line UserCodeError (thrown, or past the deadline). */
  #call(call: () => unknown): Promise<unknown> {
    return callUser(call, this.#deadline.ms, this.#deadline.module)
  }

  #then(step: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(step)
    this.#chain = next.catch(() => {})
    return next
  }
}

function sameArgs(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k])
}
