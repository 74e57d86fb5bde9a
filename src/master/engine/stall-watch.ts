/** The clocks a {@link StallWatch} reads, in milliseconds. */
export interface StallClocks {
  /** A clock that never jumps and runs on while the process is stopped (SIGSTOP). */
  monotonic(): number
  /** The wall clock: it also runs on while the machine is suspended, and may be set forward. */
  wall(): number
}

const SYSTEM_CLOCKS: StallClocks = { monotonic: () => performance.now(), wall: () => Date.now() }

/**
 * The master's own stalls: a SIGSTOP, a suspended machine, a long block of its event loop,
 * its clock set forward. While the master does not run, its slaves hear no ping and drop
 * it, and what they sent waits unread: losses that are not the slaves' fault. The watch
 * notes when the loop runs ({@link note}, on a timer and at every question); a gap between
 * two notes longer than `limitMs` is a stall, and it excuses losses from its start until
 * `graceMs` after it ended. Pure over its clocks, so it is tested without stopping anything.
 */
export class StallWatch {
  readonly #limitMs: number
  readonly #graceMs: number
  readonly #clocks: StallClocks
  /** Both clocks when the loop was last seen running. */
  #monotonic: number
  #wall: number
  /** Length of the last stall, and until when (monotonic) it excuses losses. */
  #stalledMs = 0
  #until = -Infinity

  constructor(limitMs: number, graceMs: number, clocks: StallClocks = SYSTEM_CLOCKS) {
    this.#limitMs = limitMs
    this.#graceMs = graceMs
    this.#clocks = clocks
    this.#monotonic = clocks.monotonic()
    this.#wall = clocks.wall()
  }

  /** How often to {@link note} the loop, in milliseconds: well within the limit. */
  get periodMs(): number {
    return this.#limitMs / 4
  }

  /** Notes that the loop runs now: a gap since the last note longer than the limit was a stall. */
  note(): void {
    const monotonic = this.#clocks.monotonic()
    const wall = this.#clocks.wall()
    const gap = Math.max(monotonic - this.#monotonic, wall - this.#wall)
    this.#monotonic = monotonic
    this.#wall = wall
    if (gap <= this.#limitMs) return
    this.#stalledMs = gap
    this.#until = monotonic + this.#graceMs
  }

  /**
   * Milliseconds of the master's stall that excuses a loss now: one just noticed (the
   * first timers after a SIGCONT run before the socket events that waited), or one that
   * ended less than the grace ago; 0 when none does.
   */
  excuse(): number {
    this.note()
    return this.#monotonic < this.#until ? this.#stalledMs : 0
  }
}
