import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { SLAVE_EXIT_RESTART } from '../slave/abandoned.js'

/**
 * Most slave processes one command starts on its machine (`--spawn`, `--procs`): a
 * process per core is the useful most, and each is a Node.js process of tens of MB; a
 * typo of a few zeros must not fork-bomb the machine.
 */
export const MAX_LOCAL_SLAVES = 256

/** The tm-slave command of this package. */
export const SLAVE_BIN = fileURLToPath(new URL('../../bin/tm-slave.js', import.meta.url))

/** Options of {@link LocalSlaves}. */
export interface LocalSlavesOptions {
  count: number
  /** Arguments of each tm-slave (handler, --host, ...). */
  args: string[]
  env: NodeJS.ProcessEnv
  log: (line: string) => void
  /** A slave exited with a user error (exit 2): restarting it would not help. */
  onFatal: (message: string) => void
  /**
   * Whether the run still wants slaves: a slave that exits 0 is done when the run is over,
   * but one whose handler called `process.exit(0)` mid-run must be replaced, or the run waits for ever.
   */
  running: () => boolean
}

/**
 * Slave processes the master starts on its own machine (`--spawn`). Each runs
 * `tm-slave` in its own process group, so a Ctrl-C reaches only the master, which
 * drains them first. One that exits while the run goes on (a crash, or any exit code
 * but 2, a user error) is started again, and one that exits to free its abandoned jobs
 * (SLAVE_EXIT_RESTART) at once.
 */
export class LocalSlaves {
  readonly #options: LocalSlavesOptions
  readonly #children = new Map<number, ChildProcess>()
  #stopping = false

  constructor(options: LocalSlavesOptions) {
    this.#options = options
  }

  /** Starts the slaves. */
  start(): void {
    for (let n = 1; n <= this.#options.count; n++) this.#spawn(n)
  }

  #spawn(n: number): void {
    // Not the master's own node flags (NODE_FLAGS): the user's handler runs under Node's
    // defaults, as under tm-slave on another machine. NODE_OPTIONS in env still applies.
    const child = spawn(process.execPath, [SLAVE_BIN, ...this.#options.args], { env: this.#options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    this.#children.set(n, child)
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.#options.log(`[slave ${n}] ${line}`))
    }
    child.on('exit', (code, signal) => {
      this.#children.delete(n)
      if (this.#stopping || (code === 0 && !this.#options.running())) return
      if (code === 2) {
        this.#options.onFatal(`Local slave ${n} could not start (exit code 2, see its message above)`)
        return
      }
      // A slave that exits to free its abandoned jobs asked to be replaced: no crash delay.
      const restart = code === SLAVE_EXIT_RESTART
      this.#options.log(`[slave ${n}] exited (${signal ?? `code ${code}`}); starting it again${restart ? ' (abandoned jobs were still running in it)' : ''}`)
      setTimeout(
        () => {
          if (!this.#stopping) this.#spawn(n)
        },
        restart ? 0 : 500,
      ).unref()
    })
  }

  /** Asks every slave to stop (SIGTERM) and waits for them to exit. */
  async stop(): Promise<void> {
    this.#stopping = true
    const exits = [...this.#children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          child.kill('SIGTERM')
          setTimeout(() => child.kill('SIGKILL'), 10_000).unref()
        }),
    )
    await Promise.all(exits)
  }
}
