import { randomBytes } from 'node:crypto'
import { deferred } from '../../deferred.js'
import { describeError } from '../../errors.js'
import { Intervals } from '../../intervals.js'
import type { ResolvedMasterOptions } from '../../options.js'
import { identityArgs } from '../../shard.js'
import { hideSecrets } from '../../redact.js'
import { oneLine } from '../../user-code.js'
import { CLOSE_CODE, CLOSE_REASON, MASTER_MISSED_HEARTBEATS, MASTER_STALL_HEARTBEATS } from '../../protocol/constants.js'
import type { Failure, SlaveMessage } from '../../protocol/messages.js'
import type { SlaveTiming } from './attempt-policy.js'
import { AttemptPolicy } from './attempt-policy.js'
import { Controls } from './controls.js'
import { controlChange } from './controls.js'
import type { ControlChange, ControlSource, ControlsFigures, ControlUpdate } from './controls.js'
import { Dispatcher } from './dispatcher.js'
import { Throttle } from './throttle.js'
import type { FailedJob } from '../state/failed-log.js'
import { Ledger } from './ledger.js'
import { Persistence, shownTotal } from './persistence.js'
import { stateBackend } from '../state/state-backend.js'
import { Server } from './server.js'
import { StallWatch } from './stall-watch.js'
import type { RunServer, ServerHandler, ServerOptions } from './server.js'
import type { Session } from './session.js'
import type { FailedJobsLog, ResumePoint, StateStore } from '../state/state-store.js'
import { Source } from './source.js'
import type { RunState, RunStatus } from './status.js'
import { STATUS_PERIOD_MS } from './status.js'
import { StatusSampler } from './status-sampler.js'
import { RunHistory } from './run-history.js'
import { MasterUsage } from './master-usage.js'
import { RecentFailures } from './recent-failures.js'
import { readTotal, sourceContext } from './total.js'
import { openSource } from './source-check.js'
import { ProgressProbe } from './progress-probe.js'
import type { RunTotal } from './total.js'
import type { RunSurface, SurfaceFactory } from './view.js'
import { DRAINING, FINISHED, READY, RUNNING, RunLifecycle } from './lifecycle.js'
import type { AbortAction, Ending } from './lifecycle.js'
import type { MasterAddress, RunEvents, RunSummary } from './types.js'

/** Size of the window relative to the buffer: room for jobs in flight and finished out of order. */
const WINDOW_FACTOR = 8

/** What opening a run found: a run to start, or a key that is already complete. */
export type Opened = { kind: 'run'; run: Run } | { kind: 'already-complete'; summary: RunSummary }

/**
 * How a run makes its parts: the default opens the store the options name and serves
 * WebSockets. Tests hand in parts that fail on purpose, to prove every way out of a run,
 * or fakes without a socket or a file (test/unit/master/engine/run.test.ts).
 */
export interface RunParts {
  /** `stopping` is aborted when the master is stopped before its run is open (a standby waiting for its lock). */
  store(options: ResolvedMasterOptions, stopping?: AbortSignal): StateStore | Promise<StateStore>
  server(options: ServerOptions, handler: ServerHandler): RunServer
  /** The run's plain HTTP surface, made from its view (none: the port serves slaves only). */
  surface?: SurfaceFactory
}

export const DEFAULT_PARTS: RunParts = {
  store: (o, stopping) => stateBackend(o).open(o.key, { reset: o.reset, standby: o.standby, signal: stopping }),
  server: (options, handler) => new Server(options, handler),
}

/** What a run is given besides its options. */
export interface RunContext {
  /** The token slaves must present (none: any slave may connect). */
  token: string | undefined
  /** Where the run's events go (`log`, `status`, `listening`, ...): the {@link Master}. */
  events: RunEvents
  /** How the run makes its store, server and HTTP surface. @default DEFAULT_PARTS */
  parts?: RunParts | undefined
  /** Aborted when the master is stopped before its run is open (a standby waiting for its lock). */
  stopping?: AbortSignal | undefined
}

/**
 * How long opening a run waits for the generator's total: a total that comes within it (a
 * number, a planner's estimate) is in the first status document and the resume line; one
 * that takes longer (a count(*) of a large table, a database under load) no longer holds
 * the start (it waited up to total()'s 30 s deadline), and reaches the run when it comes.
 */
export const TOTAL_WAIT_MS = 1000

/** What {@link settledWithin} answers for a promise still pending. */
const PENDING = Symbol('pending')

/** The value of `promise` if it settles within `ms`, else {@link PENDING} then. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | typeof PENDING> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<typeof PENDING>((resolve) => (timer = setTimeout(resolve, ms, PENDING)))
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/**
 * Opens the run of `options.key`: takes its lock, checks its arguments, reads where an
 * earlier incarnation stopped, and asks the generator's total, waiting for it at most
 * {@link TOTAL_WAIT_MS}: a total that comes later is handed to the run then
 * ({@link Run.setTotal}). A complete key is closed at once and reported.
 */
export async function openRun(options: ResolvedMasterOptions, context: RunContext): Promise<Opened> {
  const { events, parts = DEFAULT_PARTS } = context
  const store = await parts.store(options, context.stopping)
  const failedLog = options.failedLog ?? store.failedLogPath
  for (const warning of store.warnings) events.emit('log', { level: 'warn', message: warning })
  try {
    // The run's identity is on disk before its first job goes out.
    await store.begin(identityArgs(options.shownArgs, options.shard), options.argsFromEnv)
    const previous = store.previous
    if (previous?.complete) {
      await store.close()
      const totals = { done: previous.counts.done, failed: previous.counts.failed, elapsedMs: previous.elapsed }
      return {
        kind: 'already-complete',
        summary: {
          outcome: 'already-complete',
          key: options.key,
          jobs: 0,
          done: 0,
          failed: 0,
          skipped: 0,
          elapsedMs: 0,
          rate: 0,
          totals,
          failedLog,
        },
      }
    }
    // The source's own check (its table, its database) before the first job, and the throttle it asks for.
    const asked = await openSource(options)
    const throttle = options.throttle ?? asked
    const resume = store.resumePoint()
    // The total and, on a resume, where the watermark stands in the source's key space (for
    // the first document, the resume line) are asked side by side, and waited for together at
    // most TOTAL_WAIT_MS: an answer that comes later is used when it comes.
    const waited = Date.now()
    const reading = readTotal(options, events)
    const probe = new ProgressProbe(options.source, sourceContext(options), (message) => events.emit('log', { level: 'warn', message }))
    const asking = probe.ask(resume.last ?? undefined, resume.position)
    const total = await settledWithin(reading, TOTAL_WAIT_MS)
    await settledWithin(asking, Math.max(0, TOTAL_WAIT_MS - (Date.now() - waited)))
    const run = new Run({ ...options, throttle }, { ...context, parts }, store, resume, {
      total: total === PENDING ? undefined : total,
      probe,
    })
    if (total === PENDING) void reading.then((late) => run.setTotal(late))
    return { kind: 'run', run }
  } catch (error) {
    // Every step runs; the first error is the one the caller sees.
    await store.discardFresh().catch(() => undefined)
    await store.close().catch(() => undefined)
    throw error
  }
}

/** How a run tells its progress: the source's total, and the probe of its `progress()`. */
export interface RunProgress {
  total: RunTotal | undefined
  probe: ProgressProbe
}

/** Who asked for a change of the controls, for the log: ` (by 10.0.0.7)` over HTTP, else nothing. */
/** The controls the setters set. */
type PresetControl = 'paused' | 'rate' | 'maxInFlight'

function byWhom(source: ControlSource): string {
  return source.kind === 'http' ? ` (by ${source.address})` : ''
}

/**
 * One incarnation of a run, from listening to the last checkpoint: the engine behind
 * {@link Master}. It owns the ledger, the source, the server and the store, and exists
 * only while the run runs, so nothing in it is half-initialised.
 *
 * One turn of the loop (scheduled whenever something changed): completions are
 * journaled, then queued jobs are dispatched, then the generator is woken if the
 * buffer has room.
 */
export class Run {
  readonly #options: ResolvedMasterOptions
  /** Masks the run's secrets in free text (see src/redact.ts). */
  readonly #hide: (text: string) => string
  readonly #events: RunEvents
  readonly #ledger: Ledger
  readonly #source: Source
  readonly #server: RunServer
  readonly #dispatcher: Dispatcher
  readonly #policy: AttemptPolicy
  readonly #failedLog: FailedJobsLog
  readonly #persistence: Persistence
  readonly #resume: ResumePoint
  /** The generator's total, and whether it is the source's estimate; undefined until it comes (see {@link setTotal}). */
  #total: RunTotal | undefined
  /** Asks the source's progress() where the watermark stands, every few seconds. */
  readonly #probe: ProgressProbe
  readonly #intervals = new Intervals()
  /** The master's own stalls: what the slaves lose while it does not run is not charged to them. */
  readonly #stalls: StallWatch
  readonly #startedAt = Date.now()
  readonly #done = deferred<RunSummary>()
  /** The phase, a stop asked before listening, the first error: see lifecycle.ts. */
  readonly #life = new RunLifecycle()
  #address: MasterAddress | undefined
  #turnPending = false
  readonly #turnBound = (): void => this.#turn()
  readonly #status: StatusSampler
  /** The run's, the master's and each slave's figures since this master started, a sample a status period (bounded). */
  readonly #history = new RunHistory(this.#startedAt)
  /** The last jobs written to the failed-jobs log, for the status document. */
  readonly #failures = new RecentFailures()
  /** What serves the run's plain HTTP requests (none without a surface factory). */
  readonly #surface: RunSurface | undefined
  /** The durable position last told to the slaves (see {@link #tellDurable}). */
  #durableTold = 0
  /** Rate, max in flight, pause, throttle: consulted by the dispatcher. */
  readonly #controls: Controls
  /** Set while dispatch waits for the rate's next tokens (one timer, never a busy loop). */
  #wake: NodeJS.Timeout | undefined
  readonly #wakeBound = (): void => {
    this.#wake = undefined
    this.#scheduleTurn()
  }
  /** The user's throttle check, run on a timer while the run runs. */
  readonly #throttle: Throttle | undefined
  /** The run starts paused because its checkpoint says it was (else by --paused). */
  readonly #pausedBy: ControlSource
  /** Who set each control before the run listened (Master's setters before run()): the initial `control` events say so. */
  readonly #presetBy: Partial<Record<PresetControl, ControlSource>> = {}

  constructor(
    options: ResolvedMasterOptions,
    { token, events, parts = DEFAULT_PARTS }: RunContext,
    store: StateStore,
    resume: ResumePoint,
    { total, probe }: RunProgress,
  ) {
    this.#options = options
    this.#hide = hideSecrets(options.secrets)
    this.#events = events
    this.#resume = resume
    this.#probe = probe
    this.#total = total
    const o = options
    this.#ledger = new Ledger(o.size * WINDOW_FACTOR, resume.position, resume.last ?? undefined)
    const warn = (message: string): void => this.#log('warn', message)
    this.#persistence = new Persistence(
      store,
      this.#ledger,
      resume,
      { key: o.key, args: identityArgs(o.shownArgs, o.shard), env: o.argsFromEnv },
      this.#startedAt,
      { total: () => shownTotal(this.#status.last), warn },
    )
    this.#failedLog = store.openFailedLog(o.failedLog)
    // The state can no longer be written (a lost lease): stop at once, the jobs in flight could not be recorded.
    store.watch?.((error) => {
      this.#abort(error)
      this.stop()
    })
    // A pause outlives its master: a run paused when it stopped starts paused until resumed.
    const pausedBefore = store.previous?.paused === true
    this.#pausedBy = pausedBefore ? { kind: 'checkpoint' } : { kind: 'flag' }
    const throttle =
      o.throttle === undefined || typeof o.throttle !== 'function' ? o.throttle : { check: o.throttle, name: o.throttle.name || 'throttle' }
    // Until the throttle check first answers, nothing goes out: the database may be suffering now.
    const throttled = throttle === undefined ? undefined : 'waiting for the first throttle check'
    this.#controls = new Controls(
      { paused: o.paused || pausedBefore, rate: o.rate, maxInFlight: o.maxInFlight, throttle: throttle?.name, throttled },
      Date.now(),
      (change) => this.#onControlChange(change),
    )
    this.#throttle =
      throttle === undefined
        ? undefined
        : new Throttle(throttle.check, o.args, o.throttleInterval * 1000, (verdict) => this.#controls.setThrottled(verdict))
    this.#persistence.setPaused(this.#controls.paused)
    this.#source = new Source(o.source, this.#ledger, resume.skip, o.size, () => this.#onJobs())
    const period = o.heartbeat * 1000
    this.#stalls = new StallWatch(MASTER_STALL_HEARTBEATS * period, MASTER_MISSED_HEARTBEATS * period)
    this.#policy = new AttemptPolicy(this.#ledger, this.#failedLog, o, () => this.#scheduleTurn(), warn)
    const controls = this.#controls
    this.#surface = parts.surface?.({
      status: () => this.#status.last,
      history: () => this.#history.document(),
      get controls() {
        return controls.figures
      },
      setPaused: (paused, source) => this.setPaused(paused, source),
      setRate: (rate, source) => this.setRate(rate, source),
      setMaxInFlight: (max, source) => this.setMaxInFlight(max, source),
      stop: (source) => this.#stopBy(source),
      keep: (socket) => this.#server.keep(socket),
      log: (level, message) => this.#log(level, message),
    })
    this.#server = parts.server(
      {
        token,
        maxFrame: o.maxFrame,
        heartbeat: o.heartbeat,
        maxSlaves: o.maxSlaves,
        tls: o.tls,
        run: randomBytes(6).toString('hex'),
        args: o.args,
        jobTimeout: o.jobTimeout,
        identity: { key: o.key, id: resume.id },
        durable: () => this.#persistence.durable(),
        stalled: () => this.#stalls.excuse(),
        http: this.#surface?.routes,
      },
      {
        open: (session) => this.#onOpen(session),
        message: (session, message) => this.#onMessage(session, message),
        close: (session, reason) => this.#onClose(session, reason),
        log: (level, message) => this.#log(level, message),
      },
    )
    const currentTotal = (): RunTotal | undefined => this.#total
    const usage = new MasterUsage(() => this.#server.traffic(), this.#startedAt)
    this.#status = new StatusSampler({
      key: o.key,
      args: o.shownArgs,
      ledger: this.#ledger,
      totals: () => this.#persistence.totals(),
      sessions: this.#server.sessions,
      resume,
      // Read at each sample: a total that comes late shows from the next one.
      get total() {
        return currentTotal()
      },
      fraction: () => this.#probe.latest,
      exhausted: () => this.#source.exhausted,
      startedAt: this.#startedAt,
      controls: () => this.#controls.figures,
      failures: () => this.#failures.list(),
      master: (now) => usage.figures(now),
    })
    this.#dispatcher = new Dispatcher(this.#ledger, this.#server, { batchSize: o.batchSize, maxFrame: o.maxFrame }, this.#controls)
  }

  /** The address, once listening. */
  get address(): MasterAddress | undefined {
    return this.#address
  }

  /** The generator's total, read after the run opened (see {@link openRun}); the next status document shows it. */
  setTotal(total: RunTotal | undefined): void {
    if (total !== undefined) this.#total = total
  }

  /**
   * Listens, then runs to the end: resolves when every job is finished or after a
   * stop, rejects with an error that stopped the run. A listen error closes the store.
   */
  async start(): Promise<RunSummary> {
    const o = this.#options
    let bound
    try {
      bound = await this.#server.listen(o.host, o.port)
    } catch (error) {
      // No job went out: a run that could not listen leaves no state behind.
      await this.#persistence.abandon()
      throw error
    }
    const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
    this.#address = {
      host: bound.address,
      port: bound.port,
      hostPort: `${host}:${bound.port}`,
      url: `${o.tls ? 'wss' : 'ws'}://${host}:${bound.port}`,
    }
    const stopAsked = this.#life.listening()
    this.#intervals.every(o.checkpointInterval * 1000, () => this.#guard(() => this.#persistence.checkpoint()))
    this.#intervals.every(STATUS_PERIOD_MS, () => this.#tick())
    this.#intervals.every(this.#stalls.periodMs, () => this.#stalls.note())
    // Off the hot path: the probe asks when due (never twice at once), and says a failure once.
    this.#intervals.every(STATUS_PERIOD_MS, () => this.#probe.poll(this.#ledger.lastKey, this.#ledger.position))
    this.#tick()
    if (o.jobTimeout > 0) this.#intervals.every(Math.min(1000, (o.jobTimeout * 1000) / 4), () => this.#expire())
    this.#events.emit('listening', this.#address)
    const pausedBy = this.#presetBy.paused ?? this.#pausedBy
    for (const change of this.#controls.initialChanges(pausedBy, this.#presetBy)) this.#events.emit('control', change)
    this.#throttle?.start()
    if (this.#controls.paused)
      this.#log(
        'info',
        `Paused${pausedBy.kind === 'checkpoint' ? ' (the run was paused when its last master stopped)' : pausedBy.kind === 'api' ? ' (set before the run started)' : ' (--paused)'}: no job goes out until resumed`,
      )
    this.#source
      .run(this.#resume.last ?? undefined, {
        position: this.#resume.position,
        args: { ...o.args },
        ...(o.shard === undefined ? {} : { shard: { ...o.shard } }),
      })
      .then(
        () => this.#settle(),
        (error) => this.#abort(error),
      )
    if (stopAsked) this.stop()
    return this.#done.promise
  }

  /**
   * The first call is graceful: no new jobs go out, slaves hand back the jobs they have
   * not started and finish the running ones, then the checkpoint is written. A second
   * call stops at once (jobs in flight run again on resume).
   */
  stop(): void {
    const action = this.#life.stop()
    if (action === 'drain') this.#drain()
    else if (action === 'end-now') this.#end('stopped')
  }

  /** Draining: no new jobs go out, slaves hand back the jobs they have not started; it ends once none is in flight. */
  #drain(): void {
    this.#log('info', 'Stopping: waiting for the jobs in flight (stop again to quit at once)')
    this.#source.stop()
    this.#server.drainAll()
    this.#sampleStatus()
    this.#settle()
  }

  /** The controls now. */
  get controls(): ControlsFigures {
    return this.#controls.figures
  }

  /**
   * Pauses (true) or resumes (false) dispatch: jobs in flight finish, slaves stay
   * connected, heartbeats and checkpoints go on. The pause is written to the checkpoint at
   * once, so a master started on the run after this one stops starts paused too.
   * Returns what changed, undefined if nothing did. Before the run listens, the change is
   * told by the initial `control` events; after it has ended, nothing changes.
   */
  setPaused(paused: boolean, source: ControlSource): ControlUpdate | undefined {
    return this.#setControl('paused', source, () => {
      const changed = this.#controls.setPaused(paused, source)
      this.#persistence.setPaused(this.#controls.paused)
      if (changed !== undefined && this.#life.live) this.#guard(() => this.#persistence.checkpoint())
      return changed
    })
  }

  /** Sets the fleet-wide rate in jobs/s (null: no limit); returns what changed. As {@link setPaused} before and after the run. */
  setRate(rate: number | null, source: ControlSource): ControlUpdate | undefined {
    return this.#setControl('rate', source, () => this.#controls.setRate(rate, source))
  }

  /** Sets the fleet-wide cap on jobs in flight (null: no limit); returns what changed. As {@link setPaused} before and after the run. */
  setMaxInFlight(max: number | null, source: ControlSource): ControlUpdate | undefined {
    return this.#setControl('maxInFlight', source, () => this.#controls.setMaxInFlight(max, source))
  }

  /** A setter's change: none once the run has ended; before it listens, who set it is kept for the initial `control` events. */
  #setControl(name: PresetControl, source: ControlSource, set: () => ControlUpdate | undefined): ControlUpdate | undefined {
    if (this.#life.phase === FINISHED) return undefined
    const changed = set()
    if (changed !== undefined && this.#life.phase === READY) this.#presetBy[name] = source
    return changed
  }

  /** A stop asked over HTTP (`tm-ctl stop`): as on SIGINT, graceful first, at once the second time. */
  #stopBy(source: ControlSource): ControlUpdate {
    const change: ControlUpdate = { kind: this.#life.phase === DRAINING ? 'stopping-at-once' : 'stopping' }
    this.#log('info', `Stop asked${byWhom(source)}`)
    this.#events.emit('control', controlChange(change, source, this.#controls.figures, Date.now()))
    // After the answer is out: a stop at once closes the server under the request.
    setImmediate(() => this.stop())
    return change
  }

  /** A control changed: told to listeners (`control` event), logged, and dispatch runs with it. */
  #onControlChange(change: ControlChange): void {
    // Before listening: the initial `control` events at start tell it.
    if (this.#life.phase === READY) return
    this.#log('info', `Controls: ${change.changed}${byWhom(change.source)}`)
    this.#events.emit('control', change)
    // The views show a change at once, not up to a second later; after the end the last document stays.
    if (this.#life.live) this.#sampleStatus()
    this.#scheduleTurn()
  }

  /** The last status document (built once a second, and at each change of state). */
  status(): RunStatus {
    return this.#status.last
  }

  /** The status timer: a new document, and a point of the run's history (other documents, at a change, make none). */
  #tick(): void {
    const status = this.#sampleStatus()
    this.#history.record(status)
    this.#tellDurable()
  }

  /** Tells the slaves that asked (SlaveInfo.durable) how far the finished jobs are durable, when it moved. */
  #tellDurable(): void {
    const position = this.#persistence.durable()
    if (position <= this.#durableTold) return
    this.#durableTold = position
    for (const session of this.#server.sessions.values())
      if (session.info?.durable === true && session.welcomed) this.#server.send(session, { type: 'durable', position })
  }

  /** Builds the status document now and tells the master's listeners (`status` event). */
  #sampleStatus(outcome?: RunState): RunStatus {
    const phase = this.#life.phase
    const state: RunState = outcome ?? (phase === READY ? 'starting' : phase === DRAINING ? 'stopping' : 'running')
    const status = this.#status.sample(state)
    this.#events.emit('status', status)
    this.#surface?.published()
    return status
  }

  #log(level: 'info' | 'warn', message: string): void {
    this.#events.emit('log', { level, message })
  }

  /** Runs a step that may fail with an error that stops the run (a state file that cannot be written). */
  #guard(step: () => void): void {
    try {
      step()
    } catch (error) {
      this.#abort(error)
    }
  }

  #onOpen(session: Session): void {
    this.#log('info', `${session.label} connected (concurrency ${session.concurrency})`)
    this.#dispatcher.open(session)
    this.#events.emit('slave-connected', session)
    if (this.#life.phase === DRAINING) this.#server.drain(session)
  }

  /** `failure` with the run's secrets masked in its message and stack. */
  #hideIn(failure: Failure): Failure {
    const message = this.#hide(failure.message)
    const stack = failure.stack === undefined ? undefined : this.#hide(failure.stack)
    return message === failure.message && stack === failure.stack ? failure : { ...failure, message, stack }
  }

  #onMessage(session: Session, message: SlaveMessage): void {
    // A report of jobs (ack, fail, release) is recorded on the session: the slave's lanes
    // are moving (see AttemptPolicy.stuck).
    switch (message.type) {
      case 'ack': {
        // The acks of one event-loop turn (every slave's) go to the journal in one write.
        const done = this.#ledger.complete(message.ranges, session.id, this.#persistence.finished)
        session.reported(done, 0, Date.now())
        if (done > 0) {
          this.#scheduleTurn()
          this.#settle()
        }
        this.#grant(session, message.credit)
        break
      }
      case 'fail':
        session.reported(0, message.failures.length, Date.now())
        // A handler's error may quote a secret argument (a connection string): masked before
        // it reaches the failed-jobs log, /status, the page or the log.
        this.#failAttempts(
          session,
          message.failures.map((failure) => this.#hideIn(failure)),
        )
        this.#grant(session, message.credit)
        break
      case 'credit':
        this.#grant(session, message.n)
        break
      case 'release':
        session.reported(0, 0, Date.now())
        for (const seq of message.seqs) this.#ledger.requeue(seq, session.id, true)
        this.#scheduleTurn()
        this.#settle()
        break
    }
  }

  #grant(session: Session, credit: number): void {
    if (credit === 0) return
    this.#dispatcher.grant(session.id, credit)
    this.#scheduleTurn()
  }

  #failAttempts(session: Session, failures: readonly Failure[]): void {
    this.#reportFailed(() => this.#policy.fail(session.id, failures, Date.now(), this.#persistence.finished))
  }

  /** Runs a policy step that may send jobs to the failed-jobs log, and reports them. */
  #reportFailed(step: () => FailedJob[]): void {
    let failed: FailedJob[]
    try {
      failed = step()
    } catch (error) {
      this.#abort(error)
      return
    }
    if (failed.length > 0) {
      for (const entry of failed) {
        this.#log('warn', `Job ${String(entry.key)} failed after ${entry.attempts} attempts: ${oneLine(entry.error.message)}`)
        this.#failures.add(entry)
      }
      // Journaled at once: a crash now must not run (and log) these jobs again.
      this.#guard(() => this.#persistence.flush())
    }
    // A stop may have been waiting for just these jobs.
    this.#settle()
  }

  /**
   * A slave went away: its jobs in flight count an attempt and go back to the front of the
   * buffer; uncharged when it stopped on purpose, or when the master itself stalled.
   */
  #onClose(session: Session, reason: string): void {
    this.#dispatcher.close(session.id)
    // After the end (a stop at once), jobs still in flight are simply not finished: they
    // run again on resume and no attempt is charged.
    if (this.#life.phase === FINISHED) return
    const held = this.#ledger.inFlightCount(session.id)
    // A slave that stops on purpose reported the jobs it ran: what is left never ran. One
    // lost while the master itself stalled (or just after) is not the slave's fault.
    const handedBack = reason === CLOSE_REASON.slaveStopping
    const stalledMs = handedBack ? 0 : this.#stalls.excuse()
    const uncharged = stalledMs > 0 ? ` uncharged (the master stalled for ${(stalledMs / 1000).toFixed(1)} s)` : ''
    this.#log(
      'info',
      `${session.label} disconnected (${reason})${held > 0 ? `; ${held} jobs in flight go back to the buffer${uncharged}` : ''}`,
    )
    this.#events.emit('slave-disconnected', session)
    this.#reportFailed(
      () =>
        this.#policy.lost(session.id, reason, session.label, handedBack || stalledMs > 0, Date.now(), this.#persistence.finished).failed,
    )
    this.#scheduleTurn()
  }

  /**
   * Jobs in flight longer than --job-timeout: the slave abandons them and they count a
   * failed attempt. A slave that times out its own batch calls does that itself, unless
   * it is stuck: then it is dropped, and its jobs come back as a lost slave's.
   */
  #expire(): void {
    // Just after a stall of the master, acks and closes that wait unread come first.
    if (!this.#life.live || this.#stalls.excuse() > 0) return
    const now = Date.now()
    const slaveOf = (id: number): SlaveTiming => {
      const session = this.#server.sessions.get(id)
      return { lanes: session?.info?.concurrency ?? Infinity, batch: session?.info?.batch, reportedAt: session?.reportedAt }
    }
    for (const { session: id, quietMs } of this.#policy.stuck(now, slaveOf)) {
      const session = this.#server.sessions.get(id)
      if (session !== undefined) this.#server.drop(session, `no job reported for ${quietMs / 1000} s, with jobs past --job-timeout`)
    }
    const expired = this.#policy.expired(now, slaveOf)
    for (const [id, { abandon, failures }] of expired) {
      const session = this.#server.sessions.get(id)
      // The slave gives the slot back (as credit) when the attempt has really left its lane.
      if (session !== undefined) this.#server.send(session, { type: 'abandon', ...abandon })
      this.#reportFailed(() => this.#policy.fail(id, failures, now, this.#persistence.finished))
    }
    if (expired.size > 0) this.#scheduleTurn()
  }

  #onJobs(): void {
    this.#scheduleTurn()
    if (this.#source.exhausted) this.#settle()
  }

  #scheduleTurn(): void {
    if (this.#turnPending) return
    this.#turnPending = true
    setImmediate(this.#turnBound)
  }

  /**
   * One turn of the loop. Completions are durable before the credit they freed is
   * spent: a crash re-runs no more jobs than the slaves' windows hold.
   */
  #turn(): void {
    this.#turnPending = false
    this.#guard(() => this.#persistence.flush())
    if (this.#life.phase !== RUNNING) return
    const now = Date.now()
    const error = this.#dispatcher.dispatch(now)
    if (error !== undefined) {
      this.#abort(error)
      return
    }
    if (this.#wake === undefined) {
      const wait = this.#dispatcher.wakeIn(now)
      if (wait !== undefined) this.#wake = setTimeout(this.#wakeBound, wait)
    }
    this.#source.wake()
  }

  /** Ends the run when nothing is left: all finished (complete) or, when stopping, nothing in flight. */
  #settle(): void {
    const outcome = this.#life.settle(this.#source.exhausted && this.#ledger.idle, this.#ledger.counts.inFlight)
    if (outcome !== undefined) this.#end(outcome)
  }

  /**
   * Stops the run because of an error: graceful like {@link stop}, then run() rejects
   * with it. Only the first error is kept (and logged); on the way out it is kept too.
   * A second one while draining ends the run at once (see {@link AbortAction}): the jobs
   * in flight run again on resume.
   */
  #abort(error: unknown): void {
    const action: AbortAction = this.#life.abort(error)
    if (action === 'end-now') return this.#end('stopped')
    if (action === 'nothing') return
    // Whatever stops the run, run() rejects with an Error and the log gets one line;
    // describing it must not throw on the way (the lock is released on the way out).
    this.#log('warn', describeError(this.#life.error))
    if (action === 'drain') this.#drain()
    else if (action === 'settle') this.#settle()
  }

  /** The run ended (the lifecycle said so, once): run() settles with the summary, or with the first error on the way. */
  #end(outcome: Ending): void {
    this.#close(outcome).then(
      (summary) => this.#done.resolve(summary),
      (error) => this.#done.reject(error),
    )
  }

  /**
   * Every step on the way out runs, whatever failed before it; the first error of the
   * run (an abort during these steps included) is what run() rejects with.
   */
  async #close(outcome: Ending): Promise<RunSummary> {
    this.#intervals.clear()
    clearTimeout(this.#wake)
    this.#throttle?.stop()
    this.#policy.stop()
    this.#guard(() => this.#persistence.finalCheckpoint(outcome === 'complete'))
    // The final document goes to the page's watchers before their streams end (they would
    // hold the server open): the page ends on "complete" or "stopped", not a lost connection.
    this.#sampleStatus(outcome)
    this.#surface?.closing()
    // A slave told the run is complete may forget what it kept against running a job twice
    // (its handler's claims): the last checkpoint is written first, or a new master could run jobs again.
    const complete = outcome === 'complete' && (await this.#written())
    try {
      if (complete) await this.#server.close(CLOSE_CODE.normal, CLOSE_REASON.runComplete, { type: 'end' })
      else await this.#server.close(CLOSE_CODE.goingAway, CLOSE_REASON.masterStopping)
    } catch (error) {
      this.#abort(error)
    }
    this.#source.stop()
    // Acks that came in while the connections closed (after a stop at once).
    this.#guard(() => this.#persistence.flush())
    this.#guard(() => this.#failedLog.close())
    try {
      // A store that writes asynchronously has the last checkpoint committed here.
      await this.#persistence.close(outcome === 'complete' && this.#life.error === undefined)
    } catch (error) {
      this.#abort(error)
    }
    this.#sampleStatus(outcome)
    const error = this.#life.error
    if (error !== undefined) throw error
    return this.#summary(outcome)
  }

  /** Waits for the store to have written what is queued; false (the run's error kept) if it could not. */
  async #written(): Promise<boolean> {
    try {
      await this.#persistence.written()
      return true
    } catch (error) {
      this.#abort(error)
      return false
    }
  }

  #summary(outcome: Ending): RunSummary {
    const counts = this.#ledger.counts
    const elapsedMs = Date.now() - this.#startedAt
    const jobs = counts.done + counts.failed
    const totals = this.#persistence.totals()
    return {
      outcome,
      key: this.#options.key,
      jobs,
      done: counts.done,
      failed: counts.failed,
      skipped: counts.skipped,
      elapsedMs,
      rate: elapsedMs > 0 ? (jobs * 1000) / elapsedMs : 0,
      totals: { ...totals, elapsedMs: this.#resume.elapsed + elapsedMs },
      failedLog: this.#failedLog.path,
    }
  }
}
