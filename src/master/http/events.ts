import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { RouteHandler } from './router.js'
import { sendText } from '../engine/index.js'

/** Milliseconds between two heartbeat comments: proxies and browsers keep an idle stream open. */
export const HEARTBEAT_MS = 15_000

/** Bytes a watcher may leave unread before it is dropped: one that stops reading must not grow the master. */
export const MAX_UNREAD = 1 << 20

/** Watchers at once: each holds a socket, kept open past the server's hello deadline. */
export const MAX_WATCHERS = 100

/** How a {@link StatusEvents} serves. */
export interface StatusEventsOptions {
  /** Exempts a watcher's connection from the server's deadline for connections that never say hello. */
  keep?: (socket: Socket) => void
  /** Milliseconds between heartbeat comments. @default HEARTBEAT_MS */
  heartbeatMs?: number
  /** Watchers at once; more are refused with 503. @default MAX_WATCHERS */
  maxWatchers?: number
}

/** How long a browser waits before reconnecting a lost stream, in milliseconds (sent as `retry:`). */
const RETRY_MS = 2000

/**
 * The status document as server-sent events, for `GET /events` (the web page): each
 * watcher gets the last document when it connects, then each one the master builds (once a
 * second), as one `data:` line. Watchers are dropped when they go away, when they stop
 * reading, and when the run closes; the heartbeat timer runs only while someone watches.
 */
export class StatusEvents {
  readonly #json: () => string
  readonly #keep: (socket: Socket) => void
  readonly #heartbeatMs: number
  readonly #maxWatchers: number
  readonly #watchers = new Set<ServerResponse>()
  #heartbeat: NodeJS.Timeout | undefined
  #closed = false
  /** The document every watcher has had last: close() sends a newer one before the end. */
  #sent: string | undefined

  /** @param json gives the last status document as JSON (one line) */
  constructor(json: () => string, options: StatusEventsOptions = {}) {
    this.#json = json
    this.#keep = options.keep ?? (() => undefined)
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS
    this.#maxWatchers = options.maxWatchers ?? MAX_WATCHERS
  }

  /** Watchers connected now. */
  get size(): number {
    return this.#watchers.size
  }

  /** The `GET /events` route. */
  route(): RouteHandler {
    return (req, res) => this.#watch(req, res)
  }

  /** Sends the last document to every watcher (nothing is built when no one watches). */
  publish(): void {
    if (this.#watchers.size === 0) return
    const json = this.#json()
    this.#sent = json
    const event = `data: ${json}\n\n`
    for (const res of this.#watchers) this.#send(res, event)
  }

  /**
   * Ends every stream and takes no new watcher: the run is closing. Each watcher gets the
   * last document first (if it has not had it), so a page ends on the run's final state
   * (complete, stopped) rather than on a lost connection.
   */
  close(): void {
    this.#closed = true
    if (this.#watchers.size > 0 && this.#json() !== this.#sent) this.publish()
    for (const res of this.#watchers) res.end()
    this.#watchers.clear()
    this.#stopHeartbeat()
  }

  #watch(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closed || this.#watchers.size >= this.#maxWatchers) {
      sendText(res, 503, this.#closed ? 'The run is closing\n' : `Too many watchers (${this.#maxWatchers}); try again later\n`, {
        'retry-after': '5',
      })
      return
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // A buffering proxy (nginx) would hold the events back.
      'x-accel-buffering': 'no',
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    // The stream stays open for as long as the page: Node's request timeouts must not cut it.
    req.socket.setTimeout(0)
    req.socket.setNoDelay(true)
    this.#keep(req.socket)
    this.#watchers.add(res)
    res.once('close', () => this.#drop(res))
    res.write(`retry: ${RETRY_MS}\n\n`)
    // The run publishes each document it builds: the newest is what every watcher has had.
    this.#sent = this.#json()
    this.#send(res, `data: ${this.#sent}\n\n`)
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#heartbeatMs).unref()
  }

  #send(res: ServerResponse, event: string): void {
    if (res.writableLength > MAX_UNREAD) {
      // It reads nothing: cut it rather than keep its documents.
      res.destroy()
      this.#drop(res)
      return
    }
    res.write(event)
  }

  #beat(): void {
    for (const res of this.#watchers) this.#send(res, ': heartbeat\n\n')
  }

  #drop(res: ServerResponse): void {
    this.#watchers.delete(res)
    if (this.#watchers.size === 0) this.#stopHeartbeat()
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
  }
}
