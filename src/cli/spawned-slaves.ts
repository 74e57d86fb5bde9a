import { availableParallelism } from 'node:os'
import { LocalSlaves } from '../slave/local-slaves.js'
import type { LocalSlavesOptions } from '../slave/local-slaves.js'
import type { MasterCliOptions } from './master-options.js'
import { MASTER_CLI } from './master-options.js'
import { spawnArgs } from './option-table.js'

/** Where the lines and the fatal errors of the slaves go once the master shows its output. */
export interface SlavesOutput {
  /** A slave's line (`[slave 1] ...`). */
  line: (text: string) => void
  /** A slave could not start (exit code 2): the run stops. */
  fatal: (message: string) => void
  /** Whether the run still wants slaves (one that exits 0 meanwhile is started again). */
  wanted: () => boolean
}

/**
 * How many local slaves start with the master: those that find a core the master's start
 * leaves free. A start is all CPU, and a master's uses more than one core (its main thread,
 * tsx's loader thread, V8's and libuv's helpers): on 2 cores a slave starting beside it
 * made "running" come 0.25-0.35 s later for a first job 0.3 s sooner, so there none
 * starts early (docs/performance.md, Start-up).
 */
export function earlySlaves(count: number, cores = availableParallelism()): number {
  return Math.min(count, Math.max(0, cores - 2))
}

/**
 * The local slaves of `tm-master --spawn`, running --handler. Those that {@link earlySlaves}
 * allows start at launch, before the master loads its modules and opens its run, so that
 * their Node, tsx and handler load beside the master's start-up rather than after it (the
 * first job waits for them); the others once the master's modules are loaded and checked
 * (what is left of its start is mostly waiting for the disk: its lock, its state made
 * durable). The master's address and token are handed to them when it listens. A standby
 * starts them all only then: it may wait for hours. Until the master shows its output
 * their lines are held, so a master that stops on a usage error says it alone.
 */
export class SpawnedSlaves {
  readonly #slaves: LocalSlaves
  readonly #count: number
  /** Lines and fatal errors held until {@link show}; undefined once shown. */
  #held: { lines: string[]; fatal: string[] } | undefined = { lines: [], fatal: [] }
  #output: SlavesOutput | undefined

  /** `options` are the command's: --spawn, --handler and the slave options marked `spawn` in MASTER_CLI. */
  constructor(
    options: MasterCliOptions & { spawn: number; handler: string },
    make: (options: LocalSlavesOptions) => LocalSlaves = (o) => new LocalSlaves(o),
  ) {
    this.#count = options.spawn
    this.#slaves = make({
      count: options.spawn,
      handler: options.handler,
      awaitMaster: true,
      args: spawnArgs(MASTER_CLI, options),
      log: (line) => {
        if (this.#held !== undefined) this.#held.lines.push(line)
        else this.#output?.line(line)
      },
      onFatal: (message) => {
        if (this.#held !== undefined) this.#held.fatal.push(message)
        else this.#output?.fatal(message)
      },
      wanted: () => this.#output?.wanted() ?? false,
    })
  }

  /** Starts the first slaves ({@link earlySlaves}): they load their handler, and wait for {@link listening}. */
  startEarly(cores?: number): void {
    this.#slaves.start(earlySlaves(this.#count, cores))
  }

  /** The master shows its output now: the lines held are written to `output`, then each as it comes. */
  show(output: SlavesOutput): void {
    const held = this.#held
    this.#held = undefined
    this.#output = output
    for (const line of held?.lines ?? []) output.line(line)
    for (const message of held?.fatal ?? []) output.fatal(message)
  }

  /** Starts the slaves not started yet: they load their handler, and wait for {@link listening}. */
  startRest(): void {
    this.#slaves.start()
  }

  /** The master listens at `url` (with `token`): the slaves started connect, the others start. */
  listening(url: string, token: string | undefined): void {
    this.#slaves.listening(url, token)
    this.#slaves.start()
  }

  /** Stops the slaves (see {@link LocalSlaves.stop}). */
  stop(): Promise<number> {
    return this.#slaves.stop()
  }
}
