import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { ws as WebSocket } from '../cjs-packages.js'
import {
  AuthError,
  ConnectionError,
  EXIT_NO_MASTER,
  NoMasterError,
  ProtocolError,
  RefusedError,
  TaskmasterError,
  TlsError,
} from '../errors.js'
import { CpuMeter } from '../cpu-meter.js'
import { Intervals } from '../intervals.js'
import type { LogLine } from '../log-line.js'
import type { ResolvedSlaveOptions, SlaveOptions } from '../options.js'
import { resolveSlaveOptions, slaveBatch } from '../options.js'
import { decodeMasterMessage } from '../protocol/codec.js'
import type { Failure, MasterMessage, WelcomeMessage } from '../protocol/messages.js'
import { PROTOCOL_VERSION } from '../protocol/messages.js'
import {
  AUTH_ERROR_CODE,
  CLOSE_CODE,
  CLOSE_REASON,
  FULL_ERROR_CODE,
  OPENING_HANDSHAKE_TIMEOUT_MS,
  SLAVE_MISSED_HEARTBEATS,
  STATS_INTERVAL_S,
} from '../protocol/constants.js'
import { seqsOf } from '../protocol/jobs-batch.js'
import { abandonedLimit, abandonedMessage } from './abandoned.js'
import { backoffDelay, masterUrl } from './backoff.js'
import type { ConnectionContext } from './connection.js'
import { Connection } from './connection.js'
import { Lifecycle } from './lifecycle.js'
import { Runner } from './runner.js'
import { emptyScope } from './run-scope.js'
import type { RunScope } from './run-scope.js'
import { WINDOW_PERIOD_MS, Window } from './window.js'

/**
 * How a slave's run ended: `restart` when it stopped because too many abandoned jobs
 * were still running in its process (see src/slave/abandoned.ts): run it again.
 */
export interface SlaveSummary {
  outcome: 'complete' | 'stopped' | 'restart'
  /** Jobs this slave finished (done or failed attempts). */
  jobs: number
  failures: number
}

/**
 * The events of a {@link Slave}, by name, with their arguments: `slave.on(name, listener)`
 * takes a listener of these arguments (and only these names).
 */
export interface SlaveEvents {
  /** A master welcomed this slave: its run (it changes when the master restarts) and this connection's session number. */
  connected: [welcome: { run: string; session: number }]
  /** The connection to the master was lost, and why (the slave reconnects, unless it is stopping). */
  disconnected: [reason: string]
  /** A line for the log. */
  log: [line: LogLine]
}

/** Connecting or waiting to reconnect. */
const CONNECTING = 'connecting'
/** Welcomed: takes jobs. */
const WORKING = 'working'
/** Told by the master to drain: finishes running jobs, takes no more. */
const DRAINING = 'draining'
/** Stopping on its own (stop()): finishes running jobs, then exits. */
const STOPPING = 'stopping'
/** Stopping like STOPPING because too many abandoned jobs run in this process: ends with outcome `restart`. */
const RESTARTING = 'restarting'
/** Done: the run is over or the slave stopped. */
const FINISHED = 'finished'
type Phase = typeof CONNECTING | typeof WORKING | typeof DRAINING | typeof STOPPING | typeof RESTARTING | typeof FINISHED

/**
 * How one connection attempt ended: welcomed (work on `connection` until `closed` gives
 * the reason it was lost), refused for good, worth another try (`full`: the master serves
 * its --max-slaves already), or told the run ended.
 */
type Attempt =
  | { kind: 'welcomed'; connection: Connection; closed: Promise<string> }
  | { kind: 'fatal'; error: TaskmasterError }
  | { kind: 'retry'; reason: string; full?: true }
  | { kind: 'ended' }

/** Error codes of a TLS certificate that cannot be verified. */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/

/**
 * Giving up after `seconds` in which no master answered at `shown`: the line says the run
 * may simply be over, since a slave cannot tell a master not there yet from one whose run
 * ended; unless the slave lost its master mid-run (`lost`, the reason: it never said the run
 * was over), when the run is not over and is resumed by starting its master again.
 */
function noMaster(shown: string, seconds: number, lastError: string, lost: string | undefined): NoMasterError {
  const tried = `for ${seconds} s (--reconnect; last try: ${lastError})`
  return new NoMasterError(
    lost === undefined
      ? `No master answered at ${shown} ${tried}; the run may simply be over (exit ${EXIT_NO_MASTER})`
      : `The master at ${shown} went away mid-run (${lost}) and none answered ${tried}; start the master again to resume the run (exit ${EXIT_NO_MASTER})`,
  )
}

/**
 * A slave: connects to the master (reconnecting with backoff), takes jobs by credit,
 * runs the handler with up to `concurrency` at once, and reports completions in
 * batches.
 *
 * Events ({@link SlaveEvents}): `connected` ({ run, session }), `disconnected` (reason),
 * `log` (LogLine).
 */
export class Slave extends EventEmitter<SlaveEvents> {
  readonly options: ResolvedSlaveOptions
  readonly id = randomBytes(6).toString('hex')
  readonly #runner: Runner
  /** The module's setup / teardown around each run. */
  readonly #lifecycle: Lifecycle
  /** What every handler call shares: setup's state, the run's arguments, the run as the master said it. */
  readonly #scope: RunScope
  /** Jobs this slave holds at most: adaptive, or fixed by --prefetch (see src/slave/window.ts). */
  readonly #window: Window
  /** Jobs finished at the last window update, and when (performance.now()). */
  #windowJobs = 0
  #windowAt = 0
  /** What every connection of this slave asks of it (see {@link ConnectionContext}). */
  readonly #context: ConnectionContext
  #phase: Phase = CONNECTING
  /** The connection being opened or worked on; dropped when it is lost. */
  #connection: Connection | undefined
  /** Connections opened so far: numbers the next one. */
  #connections = 0
  /** The master's URL being tried or served (one of `--host`'s). */
  #url = ''
  #jobs = 0
  #failed = 0
  /** The run of the master last welcomed by (it changes when the master restarts). */
  #masterRun: string | undefined
  #finish: { resolve: (s: SlaveSummary) => void; reject: (e: unknown) => void } | undefined
  readonly #intervals = new Intervals()
  readonly #cpu = new CpuMeter()

  constructor(options: SlaveOptions) {
    super()
    this.options = resolveSlaveOptions(options)
    const o = this.options
    // A batch handler's lanes each run up to a batch at once.
    const batch = slaveBatch(o)
    // The window's floor: every lane holds a batch (see src/slave/window.ts).
    this.#window = new Window(o.concurrency * batch, o.prefetch)
    const scope = emptyScope()
    this.#scope = scope
    this.#lifecycle = new Lifecycle({ setup: o.setup, teardown: o.teardown }, scope, o.concurrency, batch, {
      ms: o.setupTimeout * 1000,
      module: o.module,
    })
    this.#runner = new Runner({
      ...(o.batchHandler === undefined
        ? { handler: o.handler! }
        : {
            batching: {
              handler: o.batchHandler,
              size: o.batch,
              linger: o.linger,
              onReleased: (seqs, connection) => this.#released(seqs, connection),
            },
          }),
      concurrency: o.concurrency,
      onFinished: (seq, connection, failure, report) => this.#finished(seq, connection, failure, report),
      onAbandoned: (count) => this.#tooManyAbandoned(count),
      abandonedLimit: abandonedLimit(o.concurrency, batch),
      scope,
    })
    this.#context = { window: this.#window, jobs: this.#runner, taking: () => this.#phase === WORKING }
  }

  /** Works until the master ends the run (`complete`) or {@link stop} (`stopped`). */
  run(): Promise<SlaveSummary> {
    const done = new Promise<SlaveSummary>((resolve, reject) => (this.#finish = { resolve, reject }))
    this.#intervals.every(1000, () => this.#watch())
    this.#intervals.every(STATS_INTERVAL_S * 1000, () => this.#sendStats())
    if (this.#window.adaptive) {
      this.#windowAt = performance.now()
      this.#intervals.every(WINDOW_PERIOD_MS, () => this.#measureWindow())
    }
    void this.#connectLoop()
    return done
  }

  /**
   * Stops: the first call hands back the jobs not started, finishes the running ones
   * and reports them; a second call disconnects at once (the master re-queues them).
   */
  stop(): void {
    this.#stop(STOPPING)
  }

  /**
   * Abandoned jobs pile up in this process (handlers that ignore their signal): it says
   * so, stops gracefully (hands back queued jobs, reports the running ones) and ends with
   * outcome `restart`, so whoever runs it starts a fresh process.
   */
  #tooManyAbandoned(count: number): void {
    if (this.#phase === FINISHED || this.#phase === STOPPING || this.#phase === RESTARTING || this.#finish === undefined) return
    this.#log('warn', abandonedMessage(count))
    this.#stop(RESTARTING)
  }

  /** Stops gracefully into `phase`, or at once when already stopping. */
  #stop(phase: typeof STOPPING | typeof RESTARTING): void {
    if (this.#phase === FINISHED || this.#finish === undefined) return
    if (this.#phase === STOPPING || this.#phase === RESTARTING) {
      this.#end({ outcome: 'stopped' }, CLOSE_REASON.slaveStoppedAtOnce)
      return
    }
    const connection = this.#connection
    this.#phase = phase
    if (connection === undefined || !connection.welcomed) {
      this.#end({ outcome: 'stopped' })
      return
    }
    this.#release(connection)
    void this.#runner.idle().then(() => {
      this.#connection?.flush()
      this.#end({ outcome: 'stopped' })
    })
  }

  #log(level: 'info' | 'warn', message: string): void {
    this.emit('log', { level, message })
  }

  async #connectLoop(): Promise<void> {
    // Several masters (`a:5050,b:5050`: an active one and standbys): tried in turn, so the
    // slave follows whichever serves the run.
    const urls = this.options.host.split(',').map((host) => masterUrl(host.trim()))
    let current = 0
    let url = urls[0]
    // --reconnect 0: no deadline, so a fleet stays up between runs.
    const forever = this.options.reconnect === 0
    let attempt = 0
    let since = Date.now()
    let lastError = ''
    // Whether the wait was announced: once, then retries are quiet (a fleet started
    // before its master would otherwise log every backoff step).
    let told = false
    // Whether a refusal for --max-slaves was said: once until the slave is welcomed.
    let toldFull = false
    // Whether a master answered (full) since the deadline started: then the run is not
    // over, and giving up is a failure rather than "no master answered".
    let answered = false
    // Why the master this slave served was lost, if it was: it went away without saying the run was over.
    let lostMidRun: string | undefined
    // The master it served, which the line names (not every host of --host a,b).
    let lostFrom = url
    while (this.#phase === CONNECTING) {
      url = urls[current]
      this.#url = url
      const outcome = await this.#connect(url)
      switch (outcome.kind) {
        case 'welcomed':
          lostFrom = url
          lostMidRun = await outcome.closed
          this.#lost(outcome.connection, lostMidRun)
          // --reconnect counts from the moment the master was lost.
          attempt = 0
          since = Date.now()
          told = true
          toldFull = answered = false
          continue
        case 'fatal':
          return this.#fail(outcome.error)
        case 'ended':
          this.#log('info', 'The master says the run is complete')
          return this.#end({ outcome: 'complete' })
        case 'retry':
          break
      }
      // The failed attempt's socket is closed (or closing: the master closes after an `end`).
      this.#connection = undefined
      lastError = outcome.reason
      current = (current + 1) % urls.length
      const shown = urls.length === 1 ? url : urls.join(' or ')
      if (outcome.full === true) {
        if (!toldFull) this.#log('warn', `${outcome.reason} (trying again quietly)`)
        toldFull = told = answered = true
      } else if (!told) {
        told = true
        this.#log(
          'info',
          `No master at ${shown} yet (${lastError}); ${forever ? 'waiting for one (--reconnect 0)' : `trying for up to ${this.options.reconnect} s (--reconnect)`}`,
        )
      }
      if (!forever && Date.now() - since >= this.options.reconnect * 1000) {
        return this.#fail(
          answered
            ? new ConnectionError(`Cannot reach the master at ${shown} for ${this.options.reconnect} s (--reconnect): ${lastError}`)
            : noMaster(lostMidRun === undefined ? shown : lostFrom, this.options.reconnect, lastError, lostMidRun),
        )
      }
      // The next host at once; a pause only after every host was tried.
      if (current !== 0) continue
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt++)))
    }
  }

  /** One connection attempt: says hello and waits for the master's answer (see {@link Attempt}). */
  #connect(url: string): Promise<Attempt> {
    return new Promise((resolve) => {
      const o = this.options
      const ws = new WebSocket(url, {
        maxPayload: o.maxFrame,
        perMessageDeflate: false,
        handshakeTimeout: OPENING_HANDSHAKE_TIMEOUT_MS,
        ca: o.ca,
      })
      const connection = new Connection(++this.#connections, ws, this.#context)
      this.#connection = connection
      let settled = false
      const settle = (value: Attempt): void => {
        if (settled) return
        settled = true
        resolve(value)
      }
      // Resolved with the reason the connection was lost, once it was welcomed.
      let lost: ((reason: string) => void) | undefined
      ws.on('open', () => {
        connection.send({
          type: 'hello',
          version: PROTOCOL_VERSION,
          token: o.token,
          slave: {
            id: this.id,
            hostname: hostname(),
            pid: process.pid,
            concurrency: o.concurrency,
            maxFrame: o.maxFrame,
            ...(o.batchHandler === undefined ? {} : { batch: o.batch }),
            durable: true,
          },
        })
      })
      ws.on('ping', () => connection.heard())
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        connection.heard()
        let message: MasterMessage
        try {
          if (!isBinary) throw new ProtocolError('The master sent a text frame')
          message = decodeMasterMessage(data)
        } catch (error) {
          this.#log('warn', `Bad frame from the master: ${(error as Error).message}`)
          connection.close(CLOSE_CODE.protocol, CLOSE_REASON.badFrame)
          return
        }
        if (connection.welcomed) {
          if (connection === this.#connection) this.#onMessage(message, connection)
          return
        }
        if (message.type === 'welcome') {
          const closed = new Promise<string>((resolve) => (lost = resolve))
          this.#welcome(connection, message)
          settle({ kind: 'welcomed', connection, closed })
        } else if (message.type === 'end') {
          // Connected just as the run ended; a long-lived slave waits for the next master.
          settle(this.options.reconnect === 0 ? { kind: 'retry', reason: 'its run is complete' } : { kind: 'ended' })
        } else if (message.type === 'error' && message.code === FULL_ERROR_CODE) {
          // A place may free up: tried again with backoff, within --reconnect.
          settle({ kind: 'retry', reason: message.message, full: true })
        } else if (message.type === 'error') {
          const text = `The master refused this slave: ${message.message}`
          settle({ kind: 'fatal', error: message.code === AUTH_ERROR_CODE ? new AuthError(text) : new RefusedError(text) })
        }
      })
      ws.on('error', (error: Error & { code?: string }) => {
        // A certificate the slave does not trust will not become trusted by retrying.
        if (error.code !== undefined && CERTIFICATE_ERROR.test(error.code)) {
          settle({
            kind: 'fatal',
            error: new TlsError(`Cannot verify the master's TLS certificate (${error.code}: ${error.message}); give its CA with --ca`),
          })
          return
        }
        settle({ kind: 'retry', reason: error.code ? `${error.code} ${error.message}`.trim() : error.message })
      })
      ws.on('close', (code: number, reason: Buffer) => {
        if (lost !== undefined) lost(reason.toString() || `code ${code}`)
        else settle({ kind: 'retry', reason: reason.length > 0 ? reason.toString() : `connection closed (code ${code})` })
      })
    })
  }

  #welcome(connection: Connection, message: WelcomeMessage): void {
    connection.welcome(message)
    this.#runner.timeCalls(message.jobTimeout ?? 0)
    if (this.#masterRun !== undefined && this.#masterRun !== message.run)
      this.#log('info', 'The master restarted; working for its new incarnation')
    this.#masterRun = message.run
    // Read by handlers (ctx.run): the seqs of jobs from now on are this incarnation's.
    const run = this.#scope.run
    run.key = message.key
    run.id = message.identity
    run.incarnation = message.run
    run.durable = message.durable ?? 0
    if (this.#phase === CONNECTING) this.#phase = WORKING
    this.emit('connected', { run: message.run, session: message.session })
    this.#log('info', `Connected to the master at ${this.#url} (session ${message.session})`)
    // No credit (so no job) before the run is set up; a setup that throws ends the slave.
    this.#lifecycle.begin(message.args ?? {}).then(
      () => {
        if (connection !== this.#connection) return
        if (this.#phase === WORKING) connection.openWindow()
      },
      (error: TaskmasterError) => this.#fail(error),
    )
  }

  /** Jobs of an abandoned batch go back to the master unfinished (see Runner). */
  #released(seqs: number[], connection: number): void {
    const current = this.#connection
    if (current !== undefined && current.welcomed && current.number === connection) current.send({ type: 'release', seqs })
  }

  #onMessage(message: MasterMessage, connection: Connection): void {
    switch (message.type) {
      case 'jobs':
        connection.received(message.jobs.length)
        if (this.#phase !== WORKING) {
          // Sent before the master heard we stop: hand them straight back.
          connection.send({ type: 'release', seqs: seqsOf(message) })
          break
        }
        this.#runner.push(message, connection.number)
        break
      case 'abandon':
        for (let i = 0; i < message.seqs.length; i++) this.#runner.abandon(message.seqs[i], message.attempts[i])
        break
      case 'drain':
        if (this.#phase === WORKING) this.#phase = DRAINING
        this.#release(connection)
        break
      case 'end':
        // The master ends a run only when nothing is in flight, so nothing runs here.
        if (this.options.reconnect === 0) {
          connection.closeForRunComplete()
          // The run is over: tear it down; the next master's welcome sets up its own.
          void this.#lifecycle.end((text) => this.#log('warn', text), true)
          break
        }
        this.#log('info', 'The master says the run is complete')
        this.#end({ outcome: 'complete' })
        break
      case 'durable':
        // Never backwards within an incarnation (a reconnect to the same master says it again).
        if (message.position > this.#scope.run.durable) this.#scope.run.durable = message.position
        break
      case 'error':
        this.#log('warn', `The master reported: ${message.message}`)
        break
    }
  }

  /** Hands the jobs not started back to the master, and reports the finished ones. */
  #release(connection: Connection): void {
    const seqs = this.#runner.takeQueued()
    if (seqs.length > 0) connection.send({ type: 'release', seqs })
    connection.flush()
  }

  /**
   * `connection` is gone, and with it its unsent completions and credit: queued jobs are
   * dropped (the master re-queues them), then reconnect.
   */
  #lost(connection: Connection, reason: string): void {
    this.#connection = undefined
    this.#runner.takeQueued()
    this.#runner.forgetAbandoned()
    if (this.#phase === FINISHED) return
    this.emit('disconnected', reason)
    if (this.#phase === STOPPING || this.#phase === RESTARTING) {
      this.#end({ outcome: 'stopped' })
      return
    }
    if (connection.runComplete) {
      this.#masterRun = undefined
      this.#log('info', 'The run is complete; waiting for the next master')
    } else if (reason === CLOSE_REASON.masterStopping)
      this.#log(
        'info',
        `The master stopped; waiting for it to come back${this.options.reconnect === 0 ? '' : ` (up to ${this.options.reconnect} s)`}`,
      )
    else
      this.#log(
        'warn',
        `Lost the master (${reason}); reconnecting ${this.options.reconnect === 0 ? 'until it is back' : `for up to ${this.options.reconnect} s`}`,
      )
    this.#phase = CONNECTING
  }

  /** A lane is free again (see {@link FinishedCallback}). */
  #finished(seq: number, connection: number, failure: Failure | undefined, report: boolean): void {
    this.#jobs++
    if (failure !== undefined) this.#failed++
    const current = this.#connection
    if (current === undefined || !current.welcomed) return
    current.finished(seq, failure, report && connection === current.number)
  }

  /** Feeds the window the jobs finished since its last update. */
  #measureWindow(): void {
    const now = performance.now()
    this.#window.update(this.#jobs - this.#windowJobs, now - this.#windowAt)
    this.#windowJobs = this.#jobs
    this.#windowAt = now
  }

  /** Drops a master that has gone silent (no ping or frame for 2.5 heartbeats). */
  #watch(): void {
    const connection = this.#connection
    if (connection === undefined || !connection.silent(Date.now())) return
    this.#log('warn', `No heartbeat from the master for ${Math.round(connection.heartbeat * SLAVE_MISSED_HEARTBEATS)} s`)
    connection.terminate()
  }

  #sendStats(): void {
    const connection = this.#connection
    if (connection === undefined || !connection.welcomed) return
    connection.send({
      type: 'stats',
      cpu: this.#cpu.read(),
      rss: process.memoryUsage.rss(),
      running: this.#runner.running,
      ...connection.traffic(),
    })
  }

  #end(summary: Pick<SlaveSummary, 'outcome'>, reason: string = CLOSE_REASON.slaveStopping): void {
    if (this.#phase === FINISHED) return
    const outcome = summary.outcome === 'stopped' && this.#phase === RESTARTING ? 'restart' : summary.outcome
    this.#phase = FINISHED
    this.#shutdown(reason)
    // Every job is reported by now: the run's resources can go.
    const ended: SlaveSummary = { outcome, jobs: this.#jobs, failures: this.#failed }
    void this.#lifecycle.end((text) => this.#log('warn', text), outcome === 'complete').then(() => this.#finish!.resolve(ended))
  }

  #fail(error: TaskmasterError): void {
    if (this.#phase === FINISHED) return
    this.#phase = FINISHED
    this.#shutdown(CLOSE_REASON.slaveStoppedAtOnce)
    void this.#lifecycle.end((text) => this.#log('warn', text)).then(() => this.#finish!.reject(error))
  }

  /** Closes the connection with `reason`: slaveStopping only when every job it ran was reported. */
  #shutdown(reason: string): void {
    this.#intervals.clear()
    this.#runner.close()
    this.#connection?.shutdown(reason)
  }
}
