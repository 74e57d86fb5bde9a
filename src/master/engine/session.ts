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

/** One connected slave, as the master sees it. Only the server changes it. */
export class Session {
  readonly id: number
  readonly ws: WebSocket
  readonly remote: string
  state: SessionState = AWAITING_HELLO
  info: SlaveInfo | undefined
  /** Largest frame sent to this slave: the smaller of the master's and the slave's --max-frame (set at hello). */
  maxFrame = 0
  /** A pong (or any frame) came since the last ping. */
  alive = true
  /** Last resource report of the slave (network bytes are 0 from a slave that does not send them). */
  stats = { cpu: 0, rss: 0, netIn: 0, netOut: 0 }
  /** When the slave connected (ms). */
  readonly connectedAt = Date.now()
  /** Jobs done on this connection: plain counters the run increments where it accepts acks and failures. */
  done = 0
  /** Failed attempts reported on this connection. */
  failed = 0
  /** When the slave last reported a job (done, failed or released), or connected (ms): the run sets it. */
  reportedAt = this.connectedAt
  readonly #rate = new MovingRate()

  /** The TCP connection under the WebSocket (as counted by the server's connection caps). */
  readonly socket: Socket

  constructor(id: number, ws: WebSocket, remote: string, socket: Socket) {
    this.id = id
    this.ws = ws
    this.remote = remote
    this.socket = socket
  }

  /** Keeps a `stats` report of the slave. */
  report(message: StatsMessage): void {
    const stats = this.stats
    stats.cpu = message.cpu
    stats.rss = message.rss
    if (message.netIn !== undefined) stats.netIn = message.netIn
    if (message.netOut !== undefined) stats.netOut = message.netOut
  }

  /** This slave's figures for the status document (samples its moving rate: call once per document). */
  figures(inFlight: number, now: number): SlaveFigures {
    const info = this.info
    return {
      id: this.id,
      address: this.remote,
      hostname: info?.hostname ?? '',
      pid: info?.pid ?? 0,
      concurrency: info?.concurrency ?? 0,
      connectedAt: new Date(this.connectedAt).toISOString(),
      done: this.done,
      failed: this.failed,
      rate: this.#rate.sample(this.done + this.failed, now),
      inFlight,
      cpuPercent: this.stats.cpu * 100,
      rss: this.stats.rss,
      netIn: this.stats.netIn,
      netOut: this.stats.netOut,
    }
  }

  /** How the session is named in messages: `slave <hostname>:<pid> (<address>)`. */
  get label(): string {
    return this.info ? `slave ${this.info.hostname}:${this.info.pid} (${this.remote})` : `connection from ${this.remote}`
  }
}
