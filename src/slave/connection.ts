import { ws as WebSocket } from '../cjs-packages.js'
import { encode } from '../protocol/codec.js'
import { ACK_DELAY_MS, CLOSE_CODE, CLOSE_REASON, CLOSE_TIMEOUT_MS, SLAVE_MISSED_HEARTBEATS } from '../protocol/constants.js'
import type { Failure, SlaveMessage, WelcomeMessage } from '../protocol/messages.js'
import type { Ranges } from '../protocol/ranges.js'
import { appendSeq } from '../protocol/ranges.js'

/** What a connection needs of its socket: a `ws` WebSocket, or a recorder in tests. */
export interface Link {
  readonly readyState: number
  send(data: Uint8Array): void
  close(code: number, reason: string): void
  terminate(): void
}

/** What a connection asks its slave, shared by all of the slave's connections. */
export interface ConnectionContext {
  /** Jobs the slave holds at most, and where round trips are reported (see src/slave/window.ts). */
  readonly window: { readonly size: number; roundTrip(ms: number): void }
  /** The jobs received and not started, and those running (the runner). */
  readonly jobs: { readonly queued: number; readonly running: number }
  /** Whether the slave takes more jobs now: credit goes out only then (once false, false for the connection's life). */
  readonly taking: () => boolean
}

/** Handshake: hello sent, no welcome yet. */
const OPENING = 'opening'
/** Welcomed: takes jobs and reports them. */
const WELCOMED = 'welcomed'
/** A long-lived slave heard the run is complete on it: it is closing, and the slave waits for the next master. */
const COMPLETE = 'complete'
type State = typeof OPENING | typeof WELCOMED | typeof COMPLETE

/**
 * One connection to the master, from connect until it is lost: its socket, the welcome's
 * heartbeat and session, when the master was last heard, and the completions and credit
 * not sent yet. A new connection is a new object, so nothing of an old one leaks into it.
 *
 * Completions are batched: an `ack` (carrying the credit) goes out once a quarter of the
 * window's results wait, or as soon as the runner has nothing queued, and anything held
 * back within {@link ACK_DELAY_MS}. Per job this only appends to a range and bumps counters.
 *
 * The credit an ack carries is what the window has room for: its size less the jobs
 * queued, running, and credited on this connection but not received yet. A window that
 * grew grants more, one that shrank withholds (credit stays additive on the wire).
 */
export class Connection {
  /** Increases with each connection of a slave: results of jobs from an older one are dropped. */
  readonly number: number
  readonly #link: Link
  readonly #context: ConnectionContext
  #state: State = OPENING
  /** Heartbeat period of the master, in seconds (from the welcome). */
  #heartbeat = 0
  #session = 0
  #lastHeard = Date.now()
  /** Finished jobs not acked yet, as ranges of seqs, and how many. */
  #acks: Ranges = []
  #acked = 0
  #failures: Failure[] = []
  /** Credit sent on this connection, and jobs received on it: the difference is owed by the master. */
  #granted = 0
  #received = 0
  /**
   * When a credit went out while the master owed us nothing (performance.now()), until
   * the next jobs frame: that frame answers it, and the time between is a round trip.
   */
  #creditSentAt: number | undefined
  #immediate: NodeJS.Immediate | undefined
  #ackTimer: NodeJS.Timeout | undefined
  readonly #flushBound = (): void => this.flush()

  constructor(number: number, link: Link, context: ConnectionContext) {
    this.number = number
    this.#link = link
    this.#context = context
  }

  /** True from the welcome on: the master takes this slave's hello. */
  get welcomed(): boolean {
    return this.#state !== OPENING
  }

  /** True once the master said the run is complete on this connection ({@link closeForRunComplete}). */
  get runComplete(): boolean {
    return this.#state === COMPLETE
  }

  /** Heartbeat period of the master in seconds (0 before the welcome). */
  get heartbeat(): number {
    return this.#heartbeat
  }

  /** The session the master gave this connection (0 before the welcome). */
  get session(): number {
    return this.#session
  }

  /** The master took the hello. */
  welcome(message: WelcomeMessage): void {
    this.#state = WELCOMED
    this.#heartbeat = message.heartbeat
    this.#session = message.session
    this.#lastHeard = Date.now()
  }

  /** The master was heard from (a ping or a frame). */
  heard(): void {
    this.#lastHeard = Date.now()
  }

  /** Whether the master has been silent for too long at `now` (no ping or frame for 2.5 heartbeats). */
  silent(now: number): boolean {
    return this.#state !== OPENING && now - this.#lastHeard > this.#heartbeat * SLAVE_MISSED_HEARTBEATS * 1000
  }

  /**
   * Bytes received and sent on this connection's socket so far, for the stats report (ws
   * keeps its socket in `_socket`; a link without one, as in tests, counts 0).
   */
  traffic(): { netIn: number; netOut: number } {
    const socket = (this.#link as { _socket?: { bytesRead: number; bytesWritten: number } | null })._socket
    return { netIn: socket?.bytesRead ?? 0, netOut: socket?.bytesWritten ?? 0 }
  }

  /** Sends a message if the socket is open (a closing one takes nothing more). */
  send(message: SlaveMessage): void {
    if (this.#link.readyState === WebSocket.OPEN) this.#link.send(encode(message))
  }

  /**
   * The window's room: its size less the jobs queued, running (whatever connection they
   * came on) and owed by the master on this connection; 0 when full or over (a window
   * that shrank).
   */
  #room(): number {
    const context = this.#context
    const held = context.jobs.queued + context.jobs.running + (this.#granted - this.#received)
    return Math.max(0, context.window.size - held)
  }

  /** Sends credit: `n` more jobs, in a `credit` message or in an ack. */
  #grant(n: number): void {
    if (n > 0 && this.#granted === this.#received) this.#creditSentAt = performance.now()
    this.#granted += n
  }

  /** Just welcomed: opens the window with a `credit` for the room it has. */
  openWindow(): void {
    const n = this.#room()
    if (n === 0 || this.#link.readyState !== WebSocket.OPEN) return
    this.#grant(n)
    this.send({ type: 'credit', n })
  }

  /** A jobs frame of `n` jobs came (owed credit, used): a round trip ends if one was timed. */
  received(n: number): void {
    this.#received += n
    if (this.#creditSentAt !== undefined) {
      this.#context.window.roundTrip(performance.now() - this.#creditSentAt)
      this.#creditSentAt = undefined
    }
  }

  /**
   * A job ended and its slot is free (the ack's credit is counted at flush from the
   * window's room). `report` when its result belongs to this connection. Whether the slave
   * takes jobs is asked at flush only: on one connection it stops taking and never starts
   * again, so a slot freed after that is never credited either.
   */
  finished(seq: number, failure: Failure | undefined, report: boolean): void {
    if (report) {
      if (failure === undefined) {
        appendSeq(this.#acks, seq)
        this.#acked++
      } else this.#failures.push(failure)
    }
    this.#scheduleFlush()
  }

  /**
   * Acks (and the credit they carry) go out once a quarter of the window's results wait (a
   * frame of jobs answers a quarter of the window, not each job), or as soon as
   * there is nothing left to run: big frames both ways, and a slave never idles for want
   * of credit. Anything held back goes out within ACK_DELAY_MS. A socket no longer open
   * takes nothing, so nothing is scheduled for it.
   */
  #scheduleFlush(): void {
    if (this.#immediate !== undefined || this.#link.readyState !== WebSocket.OPEN) return
    if (this.#acked + this.#failures.length >= Math.max(1, this.#context.window.size >> 2) || this.#context.jobs.queued === 0) {
      this.#immediate = setImmediate(this.#flushBound)
    } else {
      this.#ackTimer ??= setTimeout(this.#flushBound, ACK_DELAY_MS)
    }
  }

  /** Sends the pending completions: one `fail` (if any) and one `ack` carrying the credit. */
  flush(): void {
    this.#immediate = undefined
    if (this.#ackTimer !== undefined) {
      clearTimeout(this.#ackTimer)
      this.#ackTimer = undefined
    }
    const credit = this.#context.taking() ? this.#room() : 0
    if (this.#failures.length > 0) {
      this.send({ type: 'fail', failures: this.#failures, credit: 0 })
      this.#failures = []
    }
    if (this.#acked > 0 || credit > 0) {
      if (this.#link.readyState === WebSocket.OPEN) this.#grant(credit)
      this.send({ type: 'ack', ranges: this.#acks, credit })
      this.#acks = []
      this.#acked = 0
    }
  }

  /**
   * The master said the run is complete and a long-lived slave stays for the next one:
   * closes this connection (nothing runs, the master ends a run only when nothing is in flight).
   */
  closeForRunComplete(): void {
    this.#state = COMPLETE
    this.#link.close(CLOSE_CODE.normal, CLOSE_REASON.slaveStopping)
  }

  /** Closes with `code` and `reason` (a wire constant). */
  close(code: number, reason: string): void {
    this.#link.close(code, reason)
  }

  /** Drops the socket at once (a silent master). */
  terminate(): void {
    this.#link.terminate()
  }

  /**
   * The slave ends: no flush is pending any more, and the socket is closed with `reason`
   * (cut if the master does not answer within {@link CLOSE_TIMEOUT_MS}, or at once if it is not open).
   */
  shutdown(reason: string): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate)
    this.#immediate = undefined
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer)
    this.#ackTimer = undefined
    const link = this.#link
    if (link.readyState === WebSocket.OPEN) {
      link.close(CLOSE_CODE.normal, reason)
      setTimeout(() => link.terminate(), CLOSE_TIMEOUT_MS).unref()
    } else link.terminate()
  }
}
