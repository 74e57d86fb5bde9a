import { SetupError } from '../errors.js'
import type { HandlerLifecycle } from '../options.js'
import type { RunScope } from './run-scope.js'

/** No run set up. */
const IDLE = 'idle'
/** `setup` ran for the run whose arguments are in the scope. */
const ACTIVE = 'active'
type State = typeof IDLE | typeof ACTIVE

/**
 * A handler module's `setup` / `teardown` around the runs a slave process serves.
 * `setup` runs before the first job of a run (with the run's arguments from the
 * welcome, the slave's concurrency and batch size); `teardown` at the end of the run
 * (the master's `end`) and when the slave stops. A master restart within a run (same
 * arguments) keeps the state; a long-lived slave (--reconnect 0) welcomed by a run with
 * other arguments tears down and sets up again. Steps run one after the other.
 */
export class Lifecycle {
  readonly #hooks: HandlerLifecycle
  readonly #scope: RunScope
  readonly #concurrency: number
  readonly #batch: number
  #state: State = IDLE
  /** The last step begun: the next one waits for it. */
  #chain: Promise<void> = Promise.resolve()

  constructor(hooks: HandlerLifecycle, scope: RunScope, concurrency: number, batch: number) {
    this.#hooks = hooks
    this.#scope = scope
    this.#concurrency = concurrency
    this.#batch = batch
  }

  /** Makes sure the run with `args` is set up; rejects with a {@link SetupError} if `setup` throws. */
  begin(args: Readonly<Record<string, string>>): Promise<void> {
    return this.#then(async () => {
      if (this.#state === ACTIVE && sameArgs(this.#scope.args, args)) return
      if (this.#state === ACTIVE) await this.#teardown()
      const frozen = Object.freeze({ ...args })
      const setup = this.#hooks.setup
      let state: unknown
      if (setup !== undefined) {
        try {
          state = await setup({ args: frozen, concurrency: this.#concurrency, batch: this.#batch })
        } catch (error) {
          throw new SetupError(`The handler's setup failed: ${firstLine(error)}`)
        }
      }
      this.#scope.state = state
      this.#scope.args = frozen
      this.#state = ACTIVE
    })
  }

  /** Tears the run down if it is set up (a throwing `teardown` is reported to `warn`, not thrown). */
  end(warn: (message: string) => void): Promise<void> {
    return this.#then(async () => {
      if (this.#state !== ACTIVE) return
      try {
        await this.#teardown()
      } catch (error) {
        warn(`The handler's teardown failed: ${firstLine(error)}`)
      }
    })
  }

  async #teardown(): Promise<void> {
    const state = this.#scope.state
    this.#state = IDLE
    this.#scope.state = undefined
    await this.#hooks.teardown?.(state)
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

/** The first line of what was thrown: a user's error is one line, not a stack. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.split('\n')[0]
}
