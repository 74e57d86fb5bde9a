import type { WebSocket } from 'ws'
import type { SlaveInfo } from '../protocol/messages.js'

/** Waiting for the slave's `hello`. */
export const AWAITING_HELLO = 'awaiting-hello'
/** Authenticated; takes jobs while it has credit. */
export const ACTIVE = 'active'
/** Told to drain (the master is stopping): gets no more jobs. */
export const DRAINING = 'draining'
/** The connection is gone. */
export const CLOSED = 'closed'

export type SessionState = typeof AWAITING_HELLO | typeof ACTIVE | typeof DRAINING | typeof CLOSED

/** One connected slave, as the master sees it. */
export class Session {
  readonly id: number
  readonly ws: WebSocket
  readonly remote: string
  readonly connectedAt = Date.now()
  state: SessionState = AWAITING_HELLO
  /** Jobs the slave can still take. */
  credit = 0
  info: SlaveInfo | undefined
  /** A pong (or any frame) came since the last ping. */
  alive = true
  /** Last resource report of the slave. */
  stats = { cpu: 0, rss: 0, running: 0 }
  /** Jobs this slave finished in this session. */
  done = 0

  constructor(id: number, ws: WebSocket, remote: string) {
    this.id = id
    this.ws = ws
    this.remote = remote
  }

  /** How the session is named in messages: `slave <hostname>:<pid> (<address>)`. */
  get label(): string {
    return this.info ? `slave ${this.info.hostname}:${this.info.pid} (${this.remote})` : `connection from ${this.remote}`
  }
}
