import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { decodeSlaveMessage } from '../../../src/protocol/codec.js'
import type { Failure, SlaveMessage } from '../../../src/protocol/messages.js'
import type { ConnectionContext, Link } from '../../../src/slave/connection.js'
import { ACK_DELAY_MS } from '../../../src/protocol/constants.js'
import { Connection } from '../../../src/slave/connection.js'

/** The WebSocket readyState values the connection reads. */
const OPEN = 1
const CLOSING = 2

/** A link that records what goes out, closing like a `ws` WebSocket (CLOSING at once). */
class RecordingLink implements Link {
  readyState = OPEN
  readonly sent: SlaveMessage[] = []
  readonly calls: string[] = []
  send(data: Uint8Array): void {
    this.sent.push(decodeSlaveMessage(data))
  }
  close(code: number, reason: string): void {
    this.calls.push(`close ${code} ${reason}`)
    this.readyState = CLOSING
  }
  terminate(): void {
    this.calls.push('terminate')
    this.readyState = 3
  }
}

/**
 * A connection (number 1) over a recording link, with a window of `4 × flushAt` jobs, full:
 * 10 queued, the rest running. `state` is mutable: set `taking`, `queued`, `running` and
 * the window's `size` as a slave would (`roundTrips`: those the window was told of);
 * `finish` frees a running job's slot and reports it.
 */
function connect(flushAt = 4) {
  const size = 4 * flushAt
  const state = { taking: true, queued: 10, running: size - 10, size, roundTrips: [] as number[] }
  const context: ConnectionContext = {
    window: {
      get size() {
        return state.size
      },
      roundTrip: (ms) => void state.roundTrips.push(ms),
    },
    jobs: {
      get queued() {
        return state.queued
      },
      get running() {
        return state.running
      },
    },
    taking: () => state.taking,
  }
  const link = new RecordingLink()
  const connection = new Connection(1, link, context)
  connection.welcome({ type: 'welcome', version: 1, run: 'r', session: 7, heartbeat: 2 })
  const finish = (seq: number, failure: Failure | undefined, report: boolean): void => {
    state.running--
    connection.finished(seq, failure, report)
  }
  return { connection, link, state, finish }
}

/** A context with nothing held, for the tests that send nothing. */
const idle: ConnectionContext = { window: { size: 4, roundTrip: () => {} }, jobs: { queued: 0, running: 0 }, taking: () => true }

describe('Connection', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('holds completions below flushAt for ACK_DELAY_MS, then sends one ack with their ranges and the freed credit', () => {
    const { link, finish } = connect(4)
    for (const seq of [0, 1, 2]) finish(seq, undefined, true)
    vi.advanceTimersByTime(ACK_DELAY_MS - 1)
    expect(link.sent).toEqual([])
    vi.advanceTimersByTime(1)
    expect(link.sent).toEqual([{ type: 'ack', ranges: [0, 3], credit: 3 }])
  })

  it('sends at the next turn once flushAt results wait, in ranges of consecutive seqs', () => {
    const { link, finish } = connect(4)
    for (const seq of [5, 6, 9, 10]) finish(seq, undefined, true)
    expect(link.sent).toEqual([])
    vi.advanceTimersToNextTimer()
    expect(link.sent).toEqual([{ type: 'ack', ranges: [5, 2, 9, 2], credit: 4 }])
    // The held-back timer was cleared with the flush: nothing more goes out.
    vi.advanceTimersByTime(ACK_DELAY_MS * 2)
    expect(link.sent).toHaveLength(1)
  })

  it('sends at the next turn when nothing is queued, so the slave never idles for want of credit', () => {
    const { link, state, finish } = connect(100)
    // Every queued job went to a lane.
    state.running += state.queued
    state.queued = 0
    finish(3, undefined, true)
    expect(link.sent).toEqual([])
    vi.advanceTimersToNextTimer()
    expect(link.sent).toEqual([{ type: 'ack', ranges: [3, 1], credit: 1 }])
  })

  it('sends failures in one fail frame (credit 0) before the ack that carries the credit', () => {
    const { link, finish } = connect(3)
    finish(0, undefined, true)
    finish(1, { seq: 1, message: 'boom' }, true)
    finish(2, undefined, true)
    vi.advanceTimersToNextTimer()
    expect(link.sent).toEqual([
      { type: 'fail', failures: [{ seq: 1, message: 'boom' }], credit: 0 },
      { type: 'ack', ranges: [0, 1, 2, 1], credit: 3 },
    ])
  })

  it('credits a freed slot without reporting a result that is not its own', () => {
    const { link, finish } = connect(4)
    finish(8, undefined, false)
    vi.advanceTimersByTime(ACK_DELAY_MS)
    expect(link.sent).toEqual([{ type: 'ack', ranges: [], credit: 1 }])
  })

  it('gives no credit while the slave does not take jobs, neither for slots freed then nor for earlier ones', () => {
    const { connection, link, state, finish } = connect(4)
    finish(0, undefined, true)
    // Drained before the flush: the credit counted while taking does not go out.
    state.taking = false
    finish(1, undefined, true)
    connection.flush()
    expect(link.sent).toEqual([{ type: 'ack', ranges: [0, 2], credit: 0 }])
    // Nothing to report and no credit: no frame at all.
    finish(2, undefined, false)
    connection.flush()
    expect(link.sent).toHaveLength(1)
  })

  it('starts each flush afresh: what was sent is not sent again', () => {
    const { link, finish } = connect(1)
    finish(0, { seq: 0, message: 'x' }, true)
    vi.advanceTimersToNextTimer()
    finish(1, undefined, true)
    vi.advanceTimersToNextTimer()
    expect(link.sent).toEqual([
      { type: 'fail', failures: [{ seq: 0, message: 'x' }], credit: 0 },
      { type: 'ack', ranges: [], credit: 1 },
      { type: 'ack', ranges: [1, 1], credit: 1 },
    ])
  })

  it('credits the room of its window: more when the window grew, nothing while it holds more than a smaller one', () => {
    const { connection, link, state, finish } = connect(4)
    state.size = 40
    finish(0, undefined, true)
    vi.advanceTimersByTime(ACK_DELAY_MS)
    // 40 less 10 queued and 5 running.
    expect(link.sent).toEqual([{ type: 'ack', ranges: [0, 1], credit: 25 }])
    // Owed 25 by the master: a slot freed is credited once they came.
    finish(1, undefined, true)
    vi.advanceTimersByTime(ACK_DELAY_MS)
    expect(link.sent[1]).toEqual({ type: 'ack', ranges: [1, 1], credit: 1 })
    connection.received(26)
    state.queued += 26
    // The window shrank below what is held: acks go out, credit is withheld.
    state.size = 20
    for (const seq of [2, 3, 4]) finish(seq, undefined, true)
    vi.advanceTimersByTime(ACK_DELAY_MS)
    expect(link.sent[2]).toEqual({ type: 'ack', ranges: [2, 3], credit: 0 })
    // 36 queued, 1 running: down to 19 queued (20 held), and it credits again.
    state.queued = 19
    finish(5, undefined, true)
    vi.advanceTimersByTime(ACK_DELAY_MS)
    expect(link.sent[3]).toEqual({ type: 'ack', ranges: [5, 1], credit: 1 })
  })

  it('opens the window at welcome with a credit for its room, and times a round trip from a credit sent while nothing was owed', () => {
    // A window of 8 jobs, none queued.
    const { connection, link, state } = connect(2)
    state.queued = 0
    state.running = 3
    vi.spyOn(performance, 'now').mockReturnValue(1000)
    // 3 jobs of an older connection still run.
    connection.openWindow()
    expect(link.sent).toEqual([{ type: 'credit', n: 5 }])
    vi.spyOn(performance, 'now').mockReturnValue(1007)
    connection.received(2)
    expect(state.roundTrips).toEqual([7])
    // Owed 3 when the next credit goes out: the frame that follows may answer the old one, no round trip.
    state.queued = 2
    state.running = 2
    connection.flush()
    expect(link.sent[1]).toEqual({ type: 'ack', ranges: [], credit: 1 })
    connection.received(4)
    expect(state.roundTrips).toEqual([7])
    vi.restoreAllMocks()
  })

  it('schedules nothing and sends nothing once its socket is closing', () => {
    const { connection, link, finish } = connect(1)
    connection.close(1002, 'bad frame')
    finish(0, undefined, true)
    expect(vi.getTimerCount()).toBe(0)
    connection.flush()
    connection.send({ type: 'credit', n: 1 })
    expect([link.sent, link.calls]).toEqual([[], ['close 1002 bad frame']])
  })

  it('shutdown drops a pending flush and closes with the reason, cutting the socket if the master does not answer in 2 s', () => {
    const { connection, link, finish } = connect(4)
    finish(0, undefined, true)
    connection.shutdown('slave stopping')
    expect(link.calls).toEqual(['close 1000 slave stopping'])
    vi.advanceTimersByTime(1999)
    expect(link.calls).toEqual(['close 1000 slave stopping'])
    vi.advanceTimersByTime(1)
    expect([link.sent, link.calls]).toEqual([[], ['close 1000 slave stopping', 'terminate']])
  })

  it('shutdown cuts at once a socket that is not open', () => {
    const { connection, link } = connect()
    link.readyState = CLOSING
    connection.shutdown('slave stopped at once')
    expect(link.calls).toEqual(['terminate'])
  })

  it('is welcomed, then complete once told the run is complete (closing as a stopping slave)', () => {
    const link = new RecordingLink()
    const connection = new Connection(3, link, idle)
    expect([connection.number, connection.welcomed, connection.runComplete, connection.heartbeat, connection.session]).toEqual([
      3,
      false,
      false,
      0,
      0,
    ])
    connection.welcome({ type: 'welcome', version: 1, run: 'r', session: 9, heartbeat: 5 })
    expect([connection.welcomed, connection.runComplete, connection.heartbeat, connection.session]).toEqual([true, false, 5, 9])
    connection.closeForRunComplete()
    expect([connection.welcomed, connection.runComplete, link.calls]).toEqual([true, true, ['close 1000 slave stopping']])
  })

  it('is silent after 2.5 heartbeats without a ping or frame, never before the welcome', () => {
    const link = new RecordingLink()
    const connection = new Connection(1, link, idle)
    const start = Date.now()
    expect(connection.silent(start + 1e9)).toBe(false)
    connection.welcome({ type: 'welcome', version: 1, run: 'r', session: 1, heartbeat: 2 })
    expect(connection.silent(start + 5000)).toBe(false)
    expect(connection.silent(start + 5001)).toBe(true)
    vi.advanceTimersByTime(4000)
    connection.heard()
    expect(connection.silent(start + 5001)).toBe(false)
    expect(connection.silent(start + 9001)).toBe(true)
  })
})
