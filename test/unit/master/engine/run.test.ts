import { EventEmitter } from 'node:events'
import type { AddressInfo, Socket } from 'node:net'
import type { WebSocket } from 'ws'
import { describe, expect, it } from 'vitest'
import type { MasterOptions } from '../../../../src/options.js'
import { resolveMasterOptions } from '../../../../src/options.js'
import { CLOSE_CODE, CLOSE_REASON } from '../../../../src/protocol/constants.js'
import { decode } from '../../../../src/protocol/codec.js'
import { attemptAt, seqsOf } from '../../../../src/protocol/jobs-batch.js'
import type { JobsMessage, MasterMessage, SlaveInfo } from '../../../../src/protocol/messages.js'
import { rangesOf } from '../../../../src/protocol/ranges.js'
import { openRun } from '../../../../src/master/engine/run.js'
import type { Run } from '../../../../src/master/engine/run.js'
import type { RunServer, ServerHandler, ServerOptions } from '../../../../src/master/engine/server.js'
import { Session } from '../../../../src/master/engine/session.js'
import type { RunSummary } from '../../../../src/master/engine/types.js'
import type { RunView } from '../../../../src/master/engine/view.js'
import type { Checkpoint } from '../../../../src/master/state/checkpoint.js'
import type { FailedJob } from '../../../../src/master/state/failed-log.js'
import { SkipSet } from '../../../../src/master/state/skip-set.js'
import type { FailedJobsLog, JournalRecord, ResumePoint, StateStore } from '../../../../src/master/state/state-store.js'

// The Run engine through its injection point (RunParts), without a socket or a file: a
// store that keeps the run's state in memory, and a server whose slaves are driven by the
// test (they connect, give credit, ack the jobs they were sent).

/** A StateStore in memory: what the run wrote, in order; `failJournal` makes journal writes throw. */
class MemoryStore implements StateStore {
  readonly failedLogPath = 'memory:failed'
  readonly previous: Checkpoint | undefined = undefined
  readonly warnings: string[] = []
  readonly saved: Checkpoint[] = []
  readonly records: JournalRecord[] = []
  readonly failed: FailedJob[] = []
  /** Given: every journal write throws the error it returns. */
  failJournal: (() => Error) | undefined
  began = false
  /** Set by close(): whether the run was complete. */
  closed: boolean | undefined
  /** Given: the key of the last job an earlier incarnation had done (a resume). */
  resumeLast: string | null = null

  begin(): Promise<void> {
    this.began = true
    return Promise.resolve()
  }

  discardFresh(): Promise<void> {
    return Promise.resolve()
  }

  resumePoint(): ResumePoint {
    return {
      id: '0123456789abcdef',
      position: this.resumeLast === null ? 0 : 5,
      last: this.resumeLast,
      skip: new SkipSet(),
      counts: { done: 0, failed: 0 },
      elapsed: 0,
      startedAt: '2024-01-01T00:00:00.000Z',
    }
  }

  journal(record: JournalRecord): void {
    if (this.failJournal !== undefined) throw this.failJournal()
    this.records.push(record)
  }

  save(checkpoint: Checkpoint): string | undefined {
    this.saved.push(checkpoint)
    return undefined
  }

  /** The last checkpoint's position: what a store that writes at once has synced. */
  durable(): number {
    return this.last?.position ?? 0
  }

  /** Held by `holdWrites` until released: a store still writing. */
  writing: Promise<void> = Promise.resolve()

  written(): Promise<void> {
    return this.writing
  }

  openFailedLog(path: string | undefined): FailedJobsLog {
    return {
      path: path ?? this.failedLogPath,
      append: (entries) => {
        this.failed.push(...entries)
        return undefined
      },
      close: () => {},
    }
  }

  close(complete?: boolean): Promise<void> {
    this.closed = complete ?? false
    return Promise.resolve()
  }

  /** The last checkpoint written. */
  get last(): Checkpoint | undefined {
    return this.saved.at(-1)
  }
}

/** What the fake server sent to a slave: `jobs` frames decoded, other messages as given. */
interface Sent {
  session: number
  message: MasterMessage
}

/**
 * A server without sockets. Its sessions change state through the same transitions as the
 * real one's; a slave is driven by the test, or acks every frame on the next turn (`autoAck`).
 */
class FakeServer implements RunServer {
  readonly #sessions = new Map<number, Session>()
  readonly #handler: ServerHandler
  readonly options: ServerOptions
  readonly sent: Sent[] = []
  /** Slaves that ack every jobs frame they get, on the next turn of the event loop. */
  readonly autoAck = new Set<number>()
  closedWith: { code: number; reason: string } | undefined
  #nextId = 1

  constructor(options: ServerOptions, handler: ServerHandler) {
    this.options = options
    this.#handler = handler
  }

  get sessions(): ReadonlyMap<number, Session> {
    return this.#sessions
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return Promise.resolve({ address: host, family: 'IPv4', port: port || 4567 })
  }

  /** A slave says a valid hello and is welcomed; it gives credit only when told. */
  connect(info: Partial<SlaveInfo> = {}): Session {
    const session = new Session(this.#nextId++, {} as WebSocket, '10.0.0.1:5000', {} as Socket)
    this.#sessions.set(session.id, session)
    session.authenticated({ id: `slave-${session.id}`, hostname: 'worker', pid: 1000 + session.id, concurrency: 2, ...info })
    session.welcome(this.options.maxFrame)
    this.#handler.open(session)
    return session
  }

  /** The slave gives `n` jobs of credit. */
  credit(session: Session, n: number): void {
    this.#handler.message(session, { type: 'credit', n })
  }

  /** The slave reports `seqs` done, giving their credit back. */
  ack(session: Session, seqs: readonly number[]): void {
    this.#handler.message(session, { type: 'ack', ranges: rangesOf(seqs), credit: seqs.length })
  }

  /** The connection of `session` is gone. */
  disconnect(session: Session, reason: string): void {
    const welcomed = session.closed()
    this.#sessions.delete(session.id)
    if (welcomed) this.#handler.close(session, reason)
  }

  /** Seqs of every jobs frame sent to `session` (every session's when not given). */
  jobsSent(session?: Session): number[] {
    return this.sent
      .filter((s) => s.message.type === 'jobs' && (session === undefined || s.session === session.id))
      .flatMap((s) => seqsOf(s.message as JobsMessage))
  }

  /** The attempt of every job sent to `session`, in order. */
  attemptsSent(session: Session): number[] {
    return this.sent
      .filter((s) => s.message.type === 'jobs' && s.session === session.id)
      .flatMap((s) => (s.message as JobsMessage).jobs.map((_, i) => attemptAt(s.message as JobsMessage, i)))
  }

  /** Types of the messages other than jobs sent to `session`. */
  said(session: Session): string[] {
    return this.sent.filter((s) => s.session === session.id && s.message.type !== 'jobs').map((s) => s.message.type)
  }

  takesJobs(id: number): boolean {
    return this.#sessions.get(id)?.takesJobs === true
  }

  sendFrame(id: number, bytes: Buffer, written: () => void): void {
    const message = decode(bytes) as JobsMessage
    this.sent.push({ session: id, message })
    written()
    const session = this.#sessions.get(id)
    if (session !== undefined && this.autoAck.has(id)) setImmediate(() => this.ack(session, seqsOf(message)))
  }

  send(session: Session, message: MasterMessage): void {
    this.sent.push({ session: session.id, message })
  }

  drain(session: Session): void {
    if (session.drain()) this.send(session, { type: 'drain' })
  }

  drainAll(): void {
    for (const session of this.#sessions.values()) this.drain(session)
  }

  drop(session: Session, why: string): void {
    this.disconnect(session, why)
  }

  keep(): void {}

  /** The port's bytes: what a test says. */
  bytes = { netIn: 0, netOut: 0 }

  traffic(): { netIn: number; netOut: number } {
    return { ...this.bytes }
  }

  close(code: number, reason: string, message?: MasterMessage): Promise<void> {
    this.closedWith = { code, reason }
    for (const session of [...this.#sessions.values()]) {
      if (message !== undefined) this.send(session, message)
      this.disconnect(session, reason)
    }
    return Promise.resolve()
  }
}

/** A generator of `n` jobs `{ id }`, keyed by id. */
function jobs(n: number): MasterOptions['source'] {
  return {
    *getJobs() {
      for (let id = 0; id < n; id++) yield { id }
    },
  }
}

interface Opened {
  run: Run
  store: MemoryStore
  server: FakeServer
  events: EventEmitter
  logs: string[]
  /** The view the run handed its surface (one that serves nothing). */
  view: RunView
}

/** Opens a run of `n` jobs over the fake parts. */
async function open(n: number, extra: Partial<MasterOptions> = {}, store = new MemoryStore()): Promise<Opened> {
  const events = new EventEmitter()
  const logs: string[] = []
  events.on('log', ({ message }: { message: string }) => logs.push(message))
  let server: FakeServer | undefined
  let view: RunView | undefined
  const options = resolveMasterOptions({ source: jobs(n), key: 'unit', host: '127.0.0.1', port: 0, ...extra })
  const opened = await openRun(options, {
    token: undefined,
    events,
    parts: {
      store: () => store,
      server: (o, handler) => (server = new FakeServer(o, handler)),
      surface: (given) => {
        view = given
        return { routes: { handle: () => false }, published: () => {}, closing: () => {} }
      },
    },
  })
  if (opened.kind !== 'run' || server === undefined || view === undefined) throw new Error(`expected a run, got ${opened.kind}`)
  return { run: opened.run, store, server, events, logs, view }
}

/** Resolves once `probe` is true, checking every turn of the event loop (fails after 5 s). */
async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/** Settles `promise` into an outcome that can be inspected later (no unhandled rejection meanwhile). */
function settled<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return Promise.allSettled([promise]).then(([outcome]) => outcome)
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i)

/** Holds the event loop for `ms` (the master stalled: its timers cannot fire). */
function block(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until);
}

describe('Run', () => {
  it('runs a small generator to the end: the summary, the final checkpoint, the store closed complete', async () => {
    const { run, store, server } = await open(10)
    expect(store.began).toBe(true)
    const done = run.start()
    await until('listening', () => run.address !== undefined)
    expect(run.address).toMatchObject({ host: '127.0.0.1', hostPort: '127.0.0.1:4567', url: 'ws://127.0.0.1:4567' })
    const slave = server.connect()
    server.autoAck.add(slave.id)
    server.credit(slave, 4)
    const summary: RunSummary = await done
    expect(summary).toMatchObject({
      outcome: 'complete',
      key: 'unit',
      jobs: 10,
      done: 10,
      failed: 0,
      skipped: 0,
      totals: { done: 10, failed: 0 },
      failedLog: 'memory:failed',
    })
    expect(server.jobsSent(slave).sort((a, b) => a - b)).toEqual(range(0, 10))
    expect(slave.done).toBe(10)
    expect(store.last).toMatchObject({ key: 'unit', complete: true, position: 10, last: 9, finished: [], counts: { done: 10, failed: 0 } })
    expect(store.records.at(-1)).toMatchObject({ position: 10, last: 9, done: 10, failed: 0 })
    expect(store.closed).toBe(true)
    expect(server.closedWith).toEqual({ code: CLOSE_CODE.normal, reason: CLOSE_REASON.runComplete })
    expect(server.said(slave)).toEqual(['end'])
    expect(run.status().run.state).toBe('complete')
  })

  it('stopped before it starts: listens, sends no job, resolves stopped', async () => {
    const { run, store, server, events } = await open(10)
    // A slave with credit connects as soon as the run listens: it must get nothing.
    let slave: Session | undefined
    events.on('listening', () => {
      slave = server.connect()
      server.credit(slave, 10)
    })
    run.stop()
    const summary = await run.start()
    expect(summary).toMatchObject({ outcome: 'stopped', jobs: 0, done: 0, failed: 0 })
    expect(server.jobsSent()).toEqual([])
    expect(slave?.state).toBe('closed')
    expect(server.said(slave!)).toEqual(['drain'])
    expect(store.last).toMatchObject({ complete: false, position: 0 })
    expect(store.closed).toBe(false)
    expect(server.closedWith).toEqual({ code: CLOSE_CODE.goingAway, reason: CLOSE_REASON.masterStopping })
  })

  it('stopped twice: ends at once with jobs in flight, which are not charged and run again on resume', async () => {
    const { run, store, server } = await open(100)
    const done = settled(run.start())
    const slave = server.connect()
    server.credit(slave, 8)
    await until('jobs sent', () => server.jobsSent().length === 8)
    run.stop()
    expect(server.said(slave)).toEqual(['drain'])
    // Still waiting for the 8 jobs in flight.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(store.closed).toBeUndefined()
    run.stop()
    const outcome = await done
    expect(outcome).toMatchObject({ status: 'fulfilled', value: { outcome: 'stopped', jobs: 0, done: 0, failed: 0 } })
    expect(store.last).toMatchObject({ complete: false, position: 0, finished: [] })
    expect(store.closed).toBe(false)
    expect(run.status().run).toMatchObject({ state: 'stopped', inFlight: 8 })
  })

  it('drains when stopped with jobs in flight: no new jobs go out, and it stops once the slaves report theirs', async () => {
    const { run, store, server, logs } = await open(100)
    const done = settled(run.start())
    const slave = server.connect({ concurrency: 4 })
    server.credit(slave, 6)
    await until('jobs sent', () => server.jobsSent().length === 6)
    run.stop()
    expect(logs).toContain('Stopping: waiting for the jobs in flight (stop again to quit at once)')
    expect(slave.state).toBe('draining')
    expect(run.status().run.state).toBe('stopping')
    // Credit while draining sends nothing; a slave that connects now is drained at once.
    server.credit(slave, 10)
    const late = server.connect()
    server.credit(late, 10)
    expect(late.state).toBe('draining')
    expect(server.said(late)).toEqual(['drain'])
    server.ack(slave, [0, 1, 2])
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(server.jobsSent()).toEqual(range(0, 6))
    expect(store.closed).toBeUndefined()
    server.ack(slave, [3, 4, 5])
    const outcome = await done
    expect(outcome).toMatchObject({ status: 'fulfilled', value: { outcome: 'stopped', jobs: 6, done: 6 } })
    expect(store.last).toMatchObject({ complete: false, position: 6, last: 5, counts: { done: 6, failed: 0 } })
    expect(store.closed).toBe(false)
  })

  it('aborts when the store cannot write its journal: run() rejects with the first error, the store is closed', async () => {
    const { run, store, server, logs } = await open(100)
    let failures = 0
    store.failJournal = () => new Error(`journal write ${++failures} failed`)
    const done = settled(run.start())
    const slave = server.connect()
    server.autoAck.add(slave.id)
    server.credit(slave, 8)
    const outcome = await done
    expect(outcome.status).toBe('rejected')
    expect((outcome as PromiseRejectedResult).reason).toMatchObject({ message: 'journal write 1 failed' })
    expect(failures).toBeGreaterThanOrEqual(1)
    expect(logs.filter((line) => line.includes('journal write'))).toHaveLength(1)
    expect(store.closed).toBe(false)
    expect(server.closedWith).toEqual({ code: CLOSE_CODE.goingAway, reason: CLOSE_REASON.masterStopping })
    // Stopped gracefully: no job went out after the error.
    expect(server.jobsSent()).toEqual(range(0, 8))
  })

  it('ends at once on a second error while draining after the first (the jobs in flight could never be recorded)', async () => {
    const { run, store, server } = await open(100)
    let failures = 0
    const done = settled(run.start())
    const slave = server.connect()
    server.credit(slave, 8)
    await until('jobs sent', () => server.jobsSent().length === 8)
    store.failJournal = () => new Error(`journal write ${++failures} failed`)
    // The first error: draining, 6 jobs still in flight.
    server.ack(slave, [0, 1])
    await until('the first error', () => failures === 1)
    expect(slave.state).toBe('draining')
    // The second: the run ends without waiting for the 6.
    server.ack(slave, [2])
    const outcome = await done
    expect((outcome as PromiseRejectedResult).reason).toMatchObject({ message: 'journal write 1 failed' })
    expect(run.status().run.inFlight).toBe(5)
    expect(store.closed).toBe(false)
  })

  it('saves the total its status shows and the arguments given as env:VAR in every checkpoint; complete, the jobs finished', async () => {
    process.env.TM_RUN_TEST_DB = 'postgres://u:pw-long@h/d'
    let opened: Opened
    try {
      opened = await open(100, {
        source: { ...jobs(100), total: () => ({ estimate: 500 }) },
        args: { db: 'env:TM_RUN_TEST_DB', n: '3' },
        size: 10,
      })
    } finally {
      delete process.env.TM_RUN_TEST_DB
    }
    const { run, store, server } = opened
    const done = settled(run.start())
    await until('listening', () => run.address !== undefined)
    run.setPaused(true, { kind: 'api' })
    expect(store.last).toMatchObject({
      args: { db: 'postgres://u:***@h/d', n: '3' },
      env: { db: 'TM_RUN_TEST_DB' },
      total: 500,
      totalEstimated: true,
    })
    run.setPaused(false, { kind: 'api' })
    const slave = server.connect()
    server.autoAck.add(slave.id)
    server.credit(slave, 8)
    expect(await done).toMatchObject({ status: 'fulfilled', value: { outcome: 'complete' } })
    expect(store.last).toMatchObject({ complete: true, total: 100, env: { db: 'TM_RUN_TEST_DB' } })
    expect(store.last).not.toHaveProperty('totalEstimated')
  })

  it('writes a checkpoint when the total shown changes, though no job finished: an idle run lists its total', async () => {
    const { run, store } = await open(100, { source: { ...jobs(100), total: 100 }, size: 10, checkpointInterval: 0.01 })
    const done = settled(run.start())
    await until('a checkpoint with the total', () => store.last?.total === 100)
    const saved = store.saved.length
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Not again while nothing changes.
    expect(store.saved).toHaveLength(saved)
    run.stop()
    await done
  })

  it('saves no total nor env field when the run has neither', async () => {
    const { run, store, server } = await open(10)
    const done = settled(run.start())
    await until('listening', () => run.address !== undefined)
    run.setPaused(true, { kind: 'api' })
    expect(store.last).not.toHaveProperty('total')
    expect(store.last).not.toHaveProperty('env')
    run.setPaused(false, { kind: 'api' })
    const slave = server.connect()
    server.autoAck.add(slave.id)
    server.credit(slave, 4)
    expect(await done).toMatchObject({ status: 'fulfilled', value: { outcome: 'complete' } })
    expect(store.last).toMatchObject({ complete: true, total: 10 })
  })

  it('writes the checkpoint at once when paused (the next master starts paused), and sends nothing while paused', async () => {
    const { run, store, server } = await open(100)
    const done = settled(run.start())
    await until('listening', () => run.address !== undefined)
    const before = store.saved.length
    expect(run.setPaused(true, { kind: 'api' })).toBeDefined()
    expect(store.saved).toHaveLength(before + 1)
    expect(store.last).toMatchObject({ complete: false, paused: true })
    // Not again when nothing changed.
    expect(run.setPaused(true, { kind: 'api' })).toBeUndefined()
    expect(store.saved).toHaveLength(before + 1)
    const slave = server.connect()
    server.credit(slave, 8)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(server.jobsSent()).toEqual([])
    run.setPaused(false, { kind: 'api' })
    expect(store.saved).toHaveLength(before + 2)
    expect(store.last?.paused).toBeUndefined()
    await until('jobs sent', () => server.jobsSent().length === 8)
    run.stop()
    run.stop()
    expect(await done).toMatchObject({ status: 'fulfilled', value: { outcome: 'stopped' } })
  })

  it("keeps a point of the run's history a status period from its start; a document made at a change adds none", async () => {
    const { run, server, view } = await open(100)
    expect(view.history()).toEqual({
      version: 2,
      startedAt: run.status().run.session.startedAt,
      run: [],
      master: [],
      slaves: [],
      omitted: 0,
    })
    const done = settled(run.start())
    await until('listening', () => run.address !== undefined)
    // The first point is the document of the start.
    expect(view.history().run[0]).toEqual({ time: run.status().time, samples: 1, done: 0, failed: 0, rate: 0, inFlight: 0, queued: 0 })
    expect(view.history().master[0]).toMatchObject({ time: run.status().time, samples: 1, netIn: 0, netOut: 0 })
    expect(view.history().master[0].rss).toBeGreaterThan(0)
    server.bytes = { netIn: 1234, netOut: 56_789 }
    const slave = server.connect()
    slave.report({ type: 'stats', cpu: 0.5, rss: 4096, running: 0, netIn: 10, netOut: 20 })
    server.credit(slave, 4)
    await until('4 jobs sent', () => server.jobsSent(slave).length === 4)
    // A change of the controls builds a document at once, and no point.
    const before = view.history().run
    run.setPaused(true, { kind: 'api' })
    const atPause = run.status()
    expect(atPause.run).toMatchObject({ inFlight: 4, controls: { paused: true } })
    expect(view.history().run).toEqual(before)
    server.ack(slave, server.jobsSent(slave))
    // The next point comes with the status timer, after the pause's document.
    await until('the next point', () => view.history().run.length > before.length)
    const next = view.history().run.at(-1)!
    expect(next).toMatchObject({ time: run.status().time, samples: 1, done: 4, failed: 0, inFlight: 0 })
    expect(next.time > atPause.time).toBe(true)
    // The master's port bytes and the slave's figures, on the same sample.
    expect(view.history().master.at(-1)).toMatchObject({ time: next.time, netIn: 1234, netOut: 56_789 })
    expect(view.history().slaves).toEqual([
      {
        id: slave.id,
        name: 'worker:1001',
        address: '10.0.0.1:5000',
        connectedAt: new Date(slave.connectedAt).toISOString(),
        leftAt: null,
        points: [expect.objectContaining({ cpuPercent: 50, rss: 4096, netIn: 10, netOut: 20 })],
      },
    ])
    // Gone: the next sample says when, and keeps its figures.
    server.disconnect(slave, 'code 1006')
    const points = view.history().run.length
    await until('the sample after it left', () => view.history().run.length > points)
    expect(view.history().slaves[0].leftAt).toBe(view.history().run.at(-1)!.time)
    expect(view.history().slaves[0].points.length).toBeGreaterThan(0)
    run.stop()
    run.stop()
    expect(await done).toMatchObject({ status: 'fulfilled', value: { outcome: 'stopped' } })
  })

  it('tells the slaves that asked how far the finished jobs are durable, and the run complete only once the store wrote its last checkpoint', async () => {
    const { run, store, server } = await open(20, { checkpointInterval: 0.05 })
    const done = settled(run.start())
    await until('listening', () => run.address !== undefined)
    // The welcome says the run's key and identity, and to a slave that asks, the durable position.
    expect(server.options.identity).toEqual({ key: 'unit', id: '0123456789abcdef' })
    const asks = server.connect({ durable: true })
    const deaf = server.connect()
    server.credit(asks, 8)
    await until('8 jobs sent', () => server.jobsSent(asks).length === 8)
    server.ack(asks, server.jobsSent(asks))
    await until('a durable message', () => server.sent.some((s) => s.session === asks.id && s.message.type === 'durable'))
    const told = server.sent.filter((s) => s.message.type === 'durable').map((s) => ({ session: s.session, ...s.message }))
    expect(told).toEqual([{ session: asks.id, type: 'durable', position: 8 }])
    expect(server.options.durable!()).toBe(store.durable())
    expect(server.said(deaf)).toEqual([])
    // The store still writes its last checkpoint: no `end` goes out before it is written.
    let release!: () => void
    store.writing = new Promise((resolve) => (release = resolve))
    // The acks of the first 8 gave their credit back: 8 more went out before the slave acked by itself.
    server.autoAck.add(asks.id)
    server.ack(asks, server.jobsSent(asks).slice(8))
    await until('the last checkpoint', () => store.last?.complete === true)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(server.closedWith).toBeUndefined()
    release()
    expect(await done).toMatchObject({ status: 'fulfilled', value: { outcome: 'complete', done: 20 } })
    expect(server.closedWith).toEqual({ code: CLOSE_CODE.normal, reason: CLOSE_REASON.runComplete })
    expect(server.said(asks).at(-1)).toBe('end')
  })

  it('a store that cannot write the last checkpoint of a complete run: no slave is told the run is complete, run() rejects', async () => {
    const { run, store, server } = await open(4)
    const done = settled(run.start())
    await until('listening', () => run.address !== undefined)
    store.writing = Promise.reject(new Error('the database went away'))
    store.writing.catch(() => undefined)
    const slave = server.connect({ durable: true })
    server.autoAck.add(slave.id)
    server.credit(slave, 4)
    expect(await done).toMatchObject({ status: 'rejected', reason: { message: 'the database went away' } })
    expect(server.said(slave)).not.toContain('end')
    expect(server.closedWith).toEqual({ code: CLOSE_CODE.goingAway, reason: CLOSE_REASON.masterStopping })
  })

  it("puts a lost slave's jobs back in the buffer: another slave runs them", async () => {
    const { run, server } = await open(6)
    const done = run.start()
    const lost = server.connect()
    server.credit(lost, 6)
    await until('jobs sent', () => server.jobsSent(lost).length === 6)
    server.disconnect(lost, 'code 1006')
    const other = server.connect()
    server.autoAck.add(other.id)
    server.credit(other, 6)
    expect(await done).toMatchObject({ outcome: 'complete', jobs: 6, done: 6 })
    expect(server.jobsSent(other).sort((a, b) => a - b)).toEqual(range(0, 6))
    // Each counted an attempt: the slave running it may have died of it.
    expect(server.attemptsSent(other)).toEqual([2, 2, 2, 2, 2, 2])
  })

  it("puts back uncharged the jobs of a slave lost while the master itself stalled, and tells the server's heartbeat of the stall", async () => {
    const { run, server, logs } = await open(6, { heartbeat: 0.1 })
    const done = run.start()
    const lost = server.connect()
    server.credit(lost, 6)
    await until('jobs sent', () => server.jobsSent(lost).length === 6)
    expect(server.options.stalled?.()).toBe(0)
    block(300)
    server.disconnect(lost, 'code 1006')
    expect(logs.find((line) => line.includes('disconnected'))).toMatch(
      /^slave worker:1001 .* disconnected \(code 1006\); 6 jobs in flight go back to the buffer uncharged \(the master stalled for 0\.\d s\)$/,
    )
    // The server's heartbeat asks the same (it drops nobody while a stall excuses).
    expect(server.options.stalled?.()).toBeGreaterThanOrEqual(300)
    const other = server.connect()
    server.autoAck.add(other.id)
    server.credit(other, 6)
    expect(await done).toMatchObject({ outcome: 'complete', jobs: 6, done: 6 })
    expect(server.attemptsSent(other)).toEqual([1, 1, 1, 1, 1, 1])
  })

  it('times out no job for the time the master itself stalled (--job-timeout): the acks that waited come first', async () => {
    const { run, server } = await open(4, { heartbeat: 0.1, jobTimeout: 0.2 })
    const done = run.start()
    const slave = server.connect({ concurrency: 4 })
    server.credit(slave, 4)
    await until('jobs sent', () => server.jobsSent(slave).length === 4)
    block(400)
    // The timers that were due run before the ack that waited behind them.
    await new Promise((resolve) => setTimeout(resolve, 0))
    server.ack(slave, range(0, 4))
    expect(await done).toMatchObject({ outcome: 'complete', jobs: 4, done: 4, failed: 0 })
    expect(server.said(slave)).toEqual(['end'])
  })
})

describe("the generator's total", () => {
  it('at hand, or within TOTAL_WAIT_MS (a query), is in the first status document', async () => {
    const counted = await open(3, { source: { ...jobs(3), total: () => 3 } })
    expect(counted.run.status().run.total).toBe(3)
    const given = await open(3, { source: { ...jobs(3), total: 3 } })
    expect(given.run.status().run.total).toBe(3)
    const queried = await open(3, { source: { ...jobs(3), total: () => new Promise((resolve) => setTimeout(resolve, 50, 3)) } })
    expect(queried.run.status().run.total).toBe(3)
    for (const { run } of [counted, given, queried]) {
      run.stop()
      await run.start()
    }
  })

  it('that takes longer than TOTAL_WAIT_MS holds the start no longer: the run opens, listens and dispatches, and the status shows the total once it came', async () => {
    let answer: (n: number) => void = () => {}
    const total = (): Promise<number> => new Promise((resolve) => (answer = resolve))
    const { run, server, logs } = await open(10, { source: { ...jobs(10), total } })
    expect(run.status().run.total).toBeNull()
    const done = run.start()
    await until('listening', () => run.address !== undefined)
    const slave = server.connect()
    server.credit(slave, 4)
    await until('jobs sent', () => server.jobsSent(slave).length === 4)
    answer(10)
    // The next status document (one a second) has it.
    await until('the total shown', () => run.status().run.total === 10)
    server.autoAck.add(slave.id)
    server.ack(slave, server.jobsSent(slave))
    expect(await done).toMatchObject({ outcome: 'complete', jobs: 10 })
    expect(logs.filter((line) => line.includes('total()'))).toEqual([])
  })

  it("a resume's progress() that takes longer holds the start no longer than the total's wait: its answer shows when it comes", async () => {
    let answer: (fraction: number) => void = () => {}
    let asked: unknown
    const progress = (last: unknown): Promise<number> => {
      asked = last
      return new Promise((resolve) => (answer = resolve))
    }
    const store = new MemoryStore()
    store.resumeLast = '5'
    // The run opens while progress() is still out (before, it waited up to its 10 s deadline).
    const { run, logs } = await open(10, { source: { ...jobs(10), total: { estimate: 1000 }, progress } }, store)
    expect(asked).toBe('5')
    expect(run.status().run).toMatchObject({ total: 1000, totalEstimated: true })
    // 5 jobs at the watermark are half of the key space: the run has about 10.
    const done = run.start()
    answer(0.5)
    // The next status document (one a second) has it.
    await until("the source's fraction used", () => run.status().run.total === 10)
    expect(logs.filter((line) => line.includes('progress()'))).toEqual([])
    run.stop()
    await done
  })

  it('that fails late is the same warning as one that fails at once', async () => {
    let fail: (error: Error) => void = () => {}
    const total = (): Promise<number> => new Promise((_, reject) => (fail = reject))
    const { run, logs } = await open(1, { source: { ...jobs(1), total } })
    fail(new Error('no statistics'))
    await until('the warning', () => logs.length > 0)
    expect(logs).toEqual([expect.stringMatching(/^total\(\) failed, running without a total: no statistics \(at /)])
    expect(run.status().run.total).toBeNull()
    run.stop()
    await run.start()
  })
})
