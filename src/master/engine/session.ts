import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { SlaveInfo, StatsMessage } from '../../protocol/messages.js'
import type { SlaveFigures } from './status.js'
import { MovingRate } from './status.js'

/** Waiting for the slave's `hello`. */
export const AWAITING_HELLO = 'awaiting-hello'
/** Authenticated; takes jobs while it has credit. */
export const ACTIVE = 'active'
/** Told to drain (the master is stopping): gets no more jobs. */
export const DRAINING = 'draining'
/** Refused (bad input) and being closed: gets no more jobs; its jobs in flight come back on close. */
export const CLOSING = 'closing'
/** The connection is gone. */
export const CLOSED = 'closed'

/** The state of a session, one of the constants above. */
export type SessionState = typeof AWAITING_HELLO | typeof ACTIVE | typeof DRAINING | typeof CLOSING | typeof CLOSED

/** A slave's last resource report (network bytes are 0 from a slave that does not send them). */
export interface SlaveStats {
  readonly cpu: number
  readonly rss: number
  readonly netIn: number
  readonly netOut: number
}

/**
 * One connected slave, as the master sees it. Its state changes only through the methods
 * that name each transition: the server's (hello, welcome, drain, refusal, close, the
 * heartbeat, the stats a slave reports) and the run's one ({@link reported}, the jobs a
 * slave reported). Everything else reads it.
 */
export class Session {
  readonly id: number
  readonly ws: WebSocket
  readonly remote: string
  /** The TCP connection under the WebSocket (as counted by the server's connection caps). */
  readonly socket: Socket
  /** When the slave connected (ms). */
  readonly connectedAt = Date.now()
  #state: SessionState = AWAITING_HELLO
  #info: SlaveInfo | undefined
  #maxFrame = 0
  /** A pong (or any frame) came since the last ping. */
  #alive = true
  readonly #stats = { cpu: 0, rss: 0, netIn: 0, netOut: 0 }
  #done = 0
  #failed = 0
  #reportedAt = this.connectedAt
  readonly #rate = new MovingRate()

  constructor(id: number, ws: WebSocket, remote: string, socket: Socket) {
    this.id = id
    this.ws = ws
    this.remote = remote
    this.socket = socket
  }

  get state(): SessionState {
    return this.#state
  }

  /** What the slave said of itself in its hello, believed once its token was accepted. */
  get info(): SlaveInfo | undefined {
    return this.#info
  }

  /** Lanes the slave runs at once (0 before its hello is accepted). */
  get concurrency(): number {
    return this.#info?.concurrency ?? 0
  }

  /** Largest frame sent to this slave: the smaller of the master's and the slave's --max-frame (0 until welcomed). */
  get maxFrame(): number {
    return this.#maxFrame
  }

  /** True while the session takes jobs: welcomed, not draining or closing. */
  get takesJobs(): boolean {
    return this.#state === ACTIVE
  }

  /** True while the session is welcomed and not closing (active or draining): the slave still hears the run. */
  get welcomed(): boolean {
    return this.#state === ACTIVE || this.#state === DRAINING
  }

  /** The slave's last resource report. */
  get stats(): SlaveStats {
    return this.#stats
  }

  /** Jobs done on this connection. */
  get done(): number {
    return this.#done
  }

  /** Failed attempts reported on this connection. */
  get failed(): number {
    return this.#failed
  }

  /** When the slave last reported a job (done, failed or released), or connected (ms). */
  get reportedAt(): number {
    return this.#reportedAt
  }

  /** How the session is named in messages: `slave <hostname>:<pid> (<address>)`. */
  get label(): string {
    return this.#info ? `slave ${this.#info.hostname}:${this.#info.pid} (${this.remote})` : `connection from ${this.remote}`
  }

  /** The hello's token was accepted: what the slave says of itself is believed (it may still be refused for room). */
  authenticated(info: SlaveInfo): void {
    if (this.#state === AWAITING_HELLO) this.#info = info
  }

  /** Welcomed: it takes jobs, in frames of at most `maxFrame` bytes. False unless it was awaiting its hello. */
  welcome(maxFrame: number): boolean {
    if (this.#state !== AWAITING_HELLO) return false
    this.#maxFrame = maxFrame
    this.#state = ACTIVE
    return true
  }

  /** Told to drain (the master is stopping): no more jobs. False unless it was active (nothing to tell it). */
  drain(): boolean {
    if (this.#state !== ACTIVE) return false
    this.#state = DRAINING
    return true
  }

  /** Refused and being closed: no more jobs into it; its jobs in flight come back on close. */
  closing(): void {
    if (this.#state === ACTIVE || this.#state === DRAINING) this.#state = CLOSING
  }

  /** The connection is gone. Returns true if the session had been welcomed (the run knew it). */
  closed(): boolean {
    const state = this.#state
    this.#state = CLOSED
    switch (state) {
      case ACTIVE:
      case DRAINING:
      case CLOSING:
        return true
      case AWAITING_HELLO:
      case CLOSED:
        return false
      default:
        return unreachable(state)
    }
  }

  /** A pong, or any frame, came: the slave is alive. */
  heard(): void {
    this.#alive = true
  }

  /**
   * The heartbeat: false when nothing came since the last ping (the slave is to be dropped),
   * else true, and the next ping is awaited.
   */
  ping(): boolean {
    if (!this.#alive) return false
    this.#alive = false
    return true
  }

  /** Keeps a `stats` report of the slave. */
  report(message: StatsMessage): void {
    const stats = this.#stats
    stats.cpu = message.cpu
    stats.rss = message.rss
    if (message.netIn !== undefined) stats.netIn = message.netIn
    if (message.netOut !== undefined) stats.netOut = message.netOut
  }

  /** The run accepted a report of jobs from this slave at `now`: `done` done, `failed` failed attempts (its lanes are moving). */
  reported(done: number, failed: number, now: number): void {
    this.#done += done
    this.#failed += failed
    this.#reportedAt = now
  }

  /** This slave's figures for the status document (samples its moving rate: call once per document). */
  figures(inFlight: number, now: number): SlaveFigures {
    const info = this.#info
    const stats = this.#stats
    return {
      id: this.id,
      address: this.remote,
      hostname: info?.hostname ?? '',
      pid: info?.pid ?? 0,
      concurrency: info?.concurrency ?? 0,
      connectedAt: new Date(this.connectedAt).toISOString(),
      done: this.#done,
      failed: this.#failed,
      rate: this.#rate.sample(this.#done + this.#failed, now),
      inFlight,
      cpuPercent: stats.cpu * 100,
      rss: stats.rss,
      netIn: stats.netIn,
      netOut: stats.netOut,
    }
  }
}

/** A state the switch above forgot: caught at compile time. */
function unreachable(state: never): never {
  throw new Error(`Unknown session state ${String(state)}`)
}
