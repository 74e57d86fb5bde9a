import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { SlaveInfo } from '../protocol/messages.js'

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
  /** Last resource report of the slave. */
  stats = { cpu: 0, rss: 0 }

  /** The TCP connection under the WebSocket (as counted by the server's connection caps). */
  readonly socket: Socket

  constructor(id: number, ws: WebSocket, remote: string, socket: Socket) {
    this.id = id
    this.ws = ws
    this.remote = remote
    this.socket = socket
  }

  /** How the session is named in messages: `slave <hostname>:<pid> (<address>)`. */
  get label(): string {
    return this.info ? `slave ${this.info.hostname}:${this.info.pid} (${this.remote})` : `connection from ${this.remote}`
  }
}
