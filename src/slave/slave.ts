import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { AuthError, ConnectionError, ProtocolError, RefusedError, TaskmasterError, TlsError } from '../errors.js'
import { Intervals } from '../intervals.js'
import type { ResolvedSlaveOptions, SlaveOptions } from '../options.js'
import { resolveSlaveOptions } from '../options.js'
import { decodeMasterMessage, encode } from '../protocol/codec.js'
import type { Failure, MasterMessage, SlaveMessage } from '../protocol/messages.js'
import { PROTOCOL_VERSION } from '../protocol/messages.js'
import { AUTH_ERROR_CODE, CLOSE_CODE, CLOSE_REASON, SLAVE_MISSED_HEARTBEATS } from '../protocol/constants.js'
import { seqsOf } from '../protocol/jobs-batch.js'
import type { Ranges } from '../protocol/ranges.js'
import { appendSeq } from '../protocol/ranges.js'
import { abandonedLimit, abandonedMessage } from './abandoned.js'
import { backoffDelay, masterUrl } from './backoff.js'
import { Runner } from './runner.js'

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

/** Connecting or waiting to reconnect. */
const CONNECTING = 'connecting'
/** Welcomed: takes jobs. */
const WORKING = 'working'
/** Told by the master to drain: finishes running jobs, takes no more. */
const DRAINING = 'draining'
/** Stopping on its own (stop()): finishes running jobs, then exits. */
const STOPPING = 'stopping'
/** Done: the run is over or the slave stopped. */
const FINISHED = 'finished'
type Phase = typeof CONNECTING | typeof WORKING | typeof DRAINING | typeof STOPPING | typeof FINISHED

/** Error codes of a TLS certificate that cannot be verified. */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/

/** Milliseconds completions may wait for a bigger ack at most. */
const ACK_DELAY = 20

/** Seconds between resource reports. */
const STATS_PERIOD = 2

/**
 * A slave: connects to the master (reconnecting with backoff), takes jobs by credit,
 * runs the handler with up to `concurrency` at once, and reports completions in
 * batches.
 *
 * Events: `connected` ({ run, session }), `disconnected` (reason), `log` ({ level, message }).
 */
export class Slave extends EventEmitter {
  readonly options: ResolvedSlaveOptions
  readonly id = randomBytes(6).toString('hex')
  readonly #runner: Runner
  readonly #capacity: number
  /** Completions that make an ack worth sending before the queue runs dry. */
  readonly #flushAt: number
  #phase: Phase = CONNECTING
  #ws: WebSocket | undefined
  /** Increases with each connection; results of jobs from an older one are dropped. */
  #connection = 0
  #welcomed = false
  /** Finished jobs not acked yet, as ranges of seqs, and how many. */
  #acks: Ranges = []
  #acked = 0
  #failures: Failure[] = []
  #credit = 0
  #flushPending = false
  #ackTimer: NodeJS.Timeout | undefined
  #lastHeard = 0
  #heartbeat = 5
  #jobs = 0
  #failed = 0
  #masterRun: string | undefined
  /** A long-lived slave (--reconnect 0) was told the run is complete: its connection is closing. */
  #runComplete = false
  /** Stopping to restart the process: too many abandoned jobs are still running in it. */
  #restarting = false
  #finish: { resolve: (s: SlaveSummary) => void; reject: (e: unknown) => void } | undefined
  readonly #intervals = new Intervals()
  #cpu = process.cpuUsage()
  #cpuAt = Date.now()
  readonly #flushBound = (): void => this.#flush()

  constructor(options: SlaveOptions) {
    super()
    this.options = resolveSlaveOptions(options)
    this.#capacity = this.options.concurrency + this.options.prefetch
    this.#flushAt = Math.max(1, Math.floor(this.#capacity / 4))
    this.#runner = new Runner(
      this.options.handler,
      this.options.concurrency,
      (seq, connection, failure, report) => this.#finished(seq, connection, failure, report),
      (count) => this.#tooManyAbandoned(count),
      abandonedLimit(this.options.concurrency),
    )
  }

  /** Works until the master ends the run (`complete`) or {@link stop} (`stopped`). */
  run(): Promise<SlaveSummary> {
    const done = new Promise<SlaveSummary>((resolve, reject) => (this.#finish = { resolve, reject }))
    this.#intervals.every(1000, () => this.#watch())
    this.#intervals.every(STATS_PERIOD * 1000, () => this.#sendStats())
    void this.#connectLoop()
    return done
  }

  /**
   * Stops: the first call hands back the jobs not started, finishes the running ones
   * and reports them; a second call disconnects at once (the master re-queues them).
   */
  stop(): void {
    if (this.#phase === FINISHED || this.#finish === undefined) return
    if (this.#phase === STOPPING) {
      this.#end({ outcome: 'stopped' }, CLOSE_REASON.slaveStoppedAtOnce)
      return
    }
    const wasConnected = this.#welcomed
    this.#phase = STOPPING
    if (!wasConnected) {
      this.#end({ outcome: 'stopped' })
      return
    }
    this.#release()
    void this.#runner.idle().then(() => {
      this.#flush()
      this.#end({ outcome: 'stopped' })
    })
  }

  /**
   * Abandoned jobs pile up in this process (handlers that ignore their signal): it says
   * so, stops gracefully (hands back queued jobs, reports the running ones) and ends with
   * outcome `restart`, so whoever runs it starts a fresh process.
   */
  #tooManyAbandoned(count: number): void {
    if (this.#restarting || this.#phase === FINISHED || this.#phase === STOPPING || this.#finish === undefined) return
    this.#restarting = true
    this.#log('warn', abandonedMessage(count))
    this.stop()
  }

  #log(level: 'info' | 'warn', message: string): void {
    this.emit('log', { level, message })
  }

  async #connectLoop(): Promise<void> {
    const url = masterUrl(this.options.host)
    // --reconnect 0: no deadline, so a fleet stays up between runs.
    const forever = this.options.reconnect === 0
    let attempt = 0
    let since = Date.now()
    let lastError = ''
    // Whether the wait was announced: once, then retries are quiet (a fleet started
    // before its master would otherwise log every backoff step).
    let told = false
    while (this.#phase === CONNECTING) {
      const outcome = await this.#connect(url)
      if (outcome === 'welcomed') {
        const closed = await new Promise<string>((resolve) => this.#ws!.once('close', (code: number, reason: Buffer) => resolve(reason.toString() || `code ${code}`)))
        this.#lost(closed)
        // --reconnect counts from the moment the master was lost.
        attempt = 0
        since = Date.now()
        told = true
        continue
      }
      if (outcome instanceof TaskmasterError) return this.#fail(outcome)
      lastError = outcome
      if (!told) {
        told = true
        this.#log('info', `No master at ${url} yet (${lastError}); ${forever ? 'waiting for one (--reconnect 0)' : `trying for up to ${this.options.reconnect} s (--reconnect)`}`)
      }
      if (!forever && Date.now() - since >= this.options.reconnect * 1000) {
        return this.#fail(new ConnectionError(`Cannot reach the master at ${url} for ${this.options.reconnect} s (--reconnect): ${lastError}`))
      }
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt++)))
    }
  }

  /** One connection attempt: 'welcomed', a fatal error, or the text of a passing one. */
  #connect(url: string): Promise<'welcomed' | TaskmasterError | string> {
    return new Promise((resolve) => {
      const o = this.options
      const ws = new WebSocket(url, { maxPayload: o.maxFrame, perMessageDeflate: false, handshakeTimeout: 10_000, ca: o.ca })
      this.#ws = ws
      const connection = ++this.#connection
      let settled = false
      const settle = (value: 'welcomed' | TaskmasterError | string): void => {
        if (settled) return
        settled = true
        resolve(value)
      }
      ws.on('open', () => {
        this.#send({ type: 'hello', version: PROTOCOL_VERSION, token: o.token, slave: { id: this.id, hostname: hostname(), pid: process.pid, concurrency: o.concurrency, maxFrame: o.maxFrame } })
      })
      ws.on('ping', () => (this.#lastHeard = Date.now()))
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        this.#lastHeard = Date.now()
        let message: MasterMessage
        try {
          if (!isBinary) throw new ProtocolError('The master sent a text frame')
          message = decodeMasterMessage(data)
        } catch (error) {
          this.#log('warn', `Bad frame from the master: ${(error as Error).message}`)
          ws.close(CLOSE_CODE.protocol, CLOSE_REASON.badFrame)
          return
        }
        if (!this.#welcomed) {
          if (message.type === 'welcome') {
            this.#welcome(message)
            settle('welcomed')
          } else if (message.type === 'end') {
            // Connected just as the run ended; a long-lived slave waits for the next master.
            if (this.options.reconnect !== 0) {
              this.#log('info', 'The master says the run is complete')
              this.#end({ outcome: 'complete' })
            }
            settle('its run is complete')
          } else if (message.type === 'error') {
            settle(message.code === AUTH_ERROR_CODE ? new AuthError(`The master refused this slave: ${message.message}`) : new RefusedError(`The master refused this slave: ${message.message}`))
          }
          return
        }
        if (connection === this.#connection) this.#onMessage(message, connection)
      })
      ws.on('error', (error: Error & { code?: string }) => {
        // A certificate the slave does not trust will not become trusted by retrying.
        if (error.code !== undefined && CERTIFICATE_ERROR.test(error.code)) {
          settle(new TlsError(`Cannot verify the master's TLS certificate (${error.code}: ${error.message}); give its CA with --ca`))
          return
        }
        settle(error.code ? `${error.code} ${error.message}`.trim() : error.message)
      })
      ws.on('close', (code: number, reason: Buffer) => settle(reason.length > 0 ? reason.toString() : `connection closed (code ${code})`))
    })
  }

  #welcome(message: Extract<MasterMessage, { type: 'welcome' }>): void {
    this.#welcomed = true
    this.#heartbeat = message.heartbeat
    this.#lastHeard = Date.now()
    if (this.#masterRun !== undefined && this.#masterRun !== message.run) this.#log('info', 'The master restarted; working for its new incarnation')
    this.#masterRun = message.run
    if (this.#phase === CONNECTING) this.#phase = WORKING
    this.emit('connected', { run: message.run, session: message.session })
    this.#log('info', `Connected to the master at ${masterUrl(this.options.host)} (session ${message.session})`)
    this.#credit = 0
    const free = this.#capacity - this.#runner.queued - this.#runner.running
    if (this.#phase === WORKING && free > 0) this.#send({ type: 'credit', n: free })
  }

  #onMessage(message: MasterMessage, connection: number): void {
    switch (message.type) {
      case 'jobs':
        if (this.#phase !== WORKING) {
          // Sent before the master heard we stop: hand them straight back.
          this.#send({ type: 'release', seqs: seqsOf(message) })
          break
        }
        this.#runner.push(message, connection)
        break
      case 'abandon':
        for (let i = 0; i < message.seqs.length; i++) this.#runner.abandon(message.seqs[i]!, message.attempts[i]!)
        break
      case 'drain':
        if (this.#phase === WORKING) this.#phase = DRAINING
        this.#release()
        break
      case 'end':
        // The master ends a run only when nothing is in flight, so nothing runs here.
        if (this.options.reconnect === 0) {
          this.#runComplete = true
          this.#ws?.close(CLOSE_CODE.normal, CLOSE_REASON.slaveStopping)
          break
        }
        this.#log('info', 'The master says the run is complete')
        this.#end({ outcome: 'complete' })
        break
      case 'error':
        this.#log('warn', `The master reported: ${message.message}`)
        break
    }
  }

  /** Hands the jobs not started back to the master, and reports the finished ones. */
  #release(): void {
    const seqs = this.#runner.takeQueued()
    if (seqs.length > 0) this.#send({ type: 'release', seqs })
    this.#flush()
  }

  /** The connection is gone: queued jobs are dropped (the master re-queues them), then reconnect. */
  #lost(reason: string): void {
    this.#welcomed = false
    this.#acks.length = 0
    this.#acked = 0
    this.#failures.length = 0
    this.#credit = 0
    this.#runner.takeQueued()
    this.#runner.forgetAbandoned()
    if (this.#phase === FINISHED) return
    this.emit('disconnected', reason)
    if (this.#phase === STOPPING) {
      this.#end({ outcome: 'stopped' })
      return
    }
    if (this.#runComplete) {
      this.#runComplete = false
      this.#masterRun = undefined
      this.#log('info', 'The run is complete; waiting for the next master')
    } else if (reason === CLOSE_REASON.masterStopping) this.#log('info', `The master stopped; waiting for it to come back${this.options.reconnect === 0 ? '' : ` (up to ${this.options.reconnect} s)`}`)
    else this.#log('warn', `Lost the master (${reason}); reconnecting ${this.options.reconnect === 0 ? 'until it is back' : `for up to ${this.options.reconnect} s`}`)
    this.#phase = CONNECTING
  }

  /** A lane is free again (see {@link FinishedCallback}). */
  #finished(seq: number, connection: number, failure: Failure | undefined, report: boolean): void {
    this.#jobs++
    if (failure !== undefined) this.#failed++
    if (!this.#welcomed) return
    // The slot is free whatever connection its job came on: the credit sent at welcome
    // left out the jobs still running then.
    if (this.#phase === WORKING) this.#credit++
    if (report && connection === this.#connection) {
      if (failure === undefined) {
        appendSeq(this.#acks, seq)
        this.#acked++
      } else this.#failures.push(failure)
    }
    this.#scheduleFlush()
  }

  /**
   * Acks (and the credit they carry) go out once a quarter of the window is finished,
   * or as soon as there is nothing left to run: big frames both ways, and a slave never
   * idles for want of credit. Anything held back goes out within ACK_DELAY.
   */
  #scheduleFlush(): void {
    if (this.#flushPending || this.#phase === FINISHED) return
    if (this.#acked + this.#failures.length >= this.#flushAt || this.#runner.queued === 0) {
      this.#flushPending = true
      setImmediate(this.#flushBound)
    } else {
      this.#ackTimer ??= setTimeout(this.#flushBound, ACK_DELAY)
    }
  }

  /** Sends the pending completions: one `fail` (if any) and one `ack` carrying the credit. */
  #flush(): void {
    this.#flushPending = false
    if (this.#ackTimer !== undefined) {
      clearTimeout(this.#ackTimer)
      this.#ackTimer = undefined
    }
    if (!this.#welcomed) return
    const credit = this.#phase === WORKING ? this.#credit : 0
    this.#credit = 0
    if (this.#failures.length > 0) {
      this.#send({ type: 'fail', failures: this.#failures, credit: 0 })
      this.#failures = []
    }
    if (this.#acked > 0 || credit > 0) {
      this.#send({ type: 'ack', ranges: this.#acks, credit })
      this.#acks = []
      this.#acked = 0
    }
  }

  #send(message: SlaveMessage): void {
    const ws = this.#ws
    if (ws !== undefined && ws.readyState === WebSocket.OPEN) ws.send(encode(message))
  }

  /** Drops a master that has gone silent (no ping or frame for 2.5 heartbeats). */
  #watch(): void {
    if (!this.#welcomed) return
    if (Date.now() - this.#lastHeard > this.#heartbeat * SLAVE_MISSED_HEARTBEATS * 1000) {
      this.#log('warn', `No heartbeat from the master for ${Math.round(this.#heartbeat * SLAVE_MISSED_HEARTBEATS)} s`)
      this.#ws?.terminate()
    }
  }

  #sendStats(): void {
    if (!this.#welcomed) return
    const now = Date.now()
    const usage = process.cpuUsage(this.#cpu)
    const cpu = (usage.user + usage.system) / 1000 / Math.max(1, now - this.#cpuAt)
    this.#cpu = process.cpuUsage()
    this.#cpuAt = now
    this.#send({ type: 'stats', cpu, rss: process.memoryUsage.rss(), running: this.#runner.running })
  }

  #end(summary: Pick<SlaveSummary, 'outcome'>, reason: string = CLOSE_REASON.slaveStopping): void {
    if (this.#phase === FINISHED) return
    this.#phase = FINISHED
    this.#shutdown(reason)
    const outcome = summary.outcome === 'stopped' && this.#restarting ? 'restart' : summary.outcome
    this.#finish!.resolve({ outcome, jobs: this.#jobs, failures: this.#failed })
  }

  #fail(error: TaskmasterError): void {
    if (this.#phase === FINISHED) return
    this.#phase = FINISHED
    this.#shutdown(CLOSE_REASON.slaveStoppedAtOnce)
    this.#finish!.reject(error)
  }

  /** Closes the connection with `reason`: slaveStopping only when every job it ran was reported. */
  #shutdown(reason: string): void {
    this.#intervals.clear()
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer)
    this.#ackTimer = undefined
    this.#runner.close()
    const ws = this.#ws
    if (ws !== undefined && ws.readyState === WebSocket.OPEN) {
      ws.close(CLOSE_CODE.normal, reason)
      setTimeout(() => ws.terminate(), 2000).unref()
    } else ws?.terminate()
  }
}
