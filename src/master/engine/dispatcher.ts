import { JobSourceError } from '../../errors.js'
import { encode } from '../../protocol/codec.js'
import type { EncodedFrame } from '../../protocol/frame-slabs.js'
import { FrameSlabs } from '../../protocol/frame-slabs.js'
import { seqAt, seqsOf, sliceJobs } from '../../protocol/jobs-batch.js'
import { Controls } from './controls.js'
import type { Batch, Ledger } from './ledger.js'

/**
 * Bytes a jobs frame aims at: small jobs are batched by --batch-size, big ones by size,
 * so both sides pipeline frames instead of copying megabytes at a time.
 */
export const FRAME_TARGET = 256 * 1024

/** Where dispatched frames go (the server, in a run). */
export interface FrameSink {
  /** True while the session takes jobs (authenticated, not draining or closing). */
  takesJobs(session: number): boolean
  /**
   * Sends an encoded `jobs` frame to the session, and calls `written` once its bytes are
   * written out or dropped (the frame's memory is then reused).
   */
  sendFrame(session: number, bytes: Buffer, written: () => void): void
}

/** Dispatch settings. */
export interface DispatchOptions {
  /** Most jobs per frame (--batch-size). */
  batchSize: number
  /** Largest frame the master sends, in bytes (--max-frame); a slave may take less. */
  maxFrame: number
}

/**
 * A slave that takes jobs, as dispatch reads it: in a run, its session (which owns these
 * facts; dispatch asks, never copies).
 */
export interface Recipient {
  readonly id: number
  /** How the slave is named in messages. */
  readonly label: string
  /** Lanes the slave runs at once. */
  readonly concurrency: number
  /** Largest frame the slave takes (its --max-frame, in a run already capped by the master's). */
  readonly maxFrame: number
}

/** The flow-control state of one session: its credit, the one fact dispatch owns of it. */
interface Flow {
  readonly session: number
  readonly slave: Recipient
  /** Jobs the slave can still take (credit is additive). */
  credit: number
}

/**
 * The hold rule: a frame smaller than a full batch waits while its slave still has a
 * full batch queued beyond what its lanes run. The slave's next ack (or more jobs from
 * the generator) comes before it runs dry, and the frame then goes out full: a frame
 * costs both sides tens of microseconds. Jobs that came back (released, retried) never
 * wait.
 *
 * @param room jobs that could go now: the smaller of the slave's credit and the buffer
 * @param inFlight jobs in flight on the slave
 */
export function holdsPartialFrame(room: number, batchSize: number, inFlight: number, concurrency: number, returned: boolean): boolean {
  return !returned && room < batchSize && inFlight - concurrency >= batchSize
}

/**
 * Each slave's share of what the controls let out now, when that is less than the slaves
 * could take (a rate or a cap that binds): in proportion to each one's free lanes (its
 * lanes less its jobs in flight, within its credit), so a faster slave, whose lanes free
 * sooner, gets more, as dispatch without limits gives it. Free credit would not do: a slave's
 * window grows with what it is sent, so the first served would keep the lead. When no lane
 * is free, in proportion to credit. Rounded up, so the shares cover the allowance; undefined
 * when the allowance binds no one.
 *
 * @param free a slave's free lanes
 */
export function fairShares<F extends { readonly credit: number }>(
  flows: readonly F[],
  free: (flow: F) => number,
  allowed: number,
  queued: number,
): number[] | undefined {
  if (flows.length < 2 || allowed >= queued) return undefined
  let wanted = 0
  for (const flow of flows) wanted += flow.credit
  if (allowed >= wanted) return undefined
  const lanes = flows.map((flow) => Math.min(flow.credit, free(flow)))
  let sum = 0
  for (const n of lanes) sum += n
  const weights = sum > 0 ? lanes : flows.map((flow) => flow.credit)
  return weights.map((w) => Math.ceil((allowed * w) / (sum > 0 ? sum : wanted)))
}

/**
 * Hands queued jobs to slaves by credit: every session's credit, frame building and
 * splitting, and the frame size learned from the jobs, live here and nowhere else.
 */
export class Dispatcher {
  readonly #ledger: Ledger
  readonly #sink: FrameSink
  readonly #options: DispatchOptions
  /** Sessions in connection order (the order a round serves them in). */
  readonly #flows = new Map<number, Flow>()
  readonly #controls: Controls
  /** Encoded bytes per job of the last frame (0 before the first): sizes the next frames. */
  #bytesPerJob = 0
  /** Where frames are encoded: memory reused once the socket wrote them. */
  readonly #slabs = new FrameSlabs()
  /** The last dispatch stopped on the controls' allowance with jobs and credit left. */
  #limited = false
  /** Dispatches so far: where the next one starts its rounds. */
  #rounds = 0

  /** @param controls rate, max in flight, pause and throttle: how many jobs may go (default: no limits) */
  constructor(
    ledger: Ledger,
    sink: FrameSink,
    options: DispatchOptions,
    controls = new Controls({ paused: false, rate: undefined, maxInFlight: undefined, throttle: undefined }, 0),
  ) {
    this.#ledger = ledger
    this.#sink = sink
    this.#options = options
    this.#controls = controls
  }

  /**
   * After a dispatch: milliseconds until it should run again because the rate's tokens are
   * due (it stopped on them with jobs and credit left); undefined when an ack, new credit
   * or a change of the controls is what it waits for.
   */
  wakeIn(now: number): number | undefined {
    return this.#limited ? this.#controls.wakeIn(now, this.#ledger.counts.inFlight) : undefined
  }

  /** A slave was welcomed: it takes jobs once it gives credit. */
  open(slave: Recipient): void {
    this.#flows.set(slave.id, { session: slave.id, slave, credit: 0 })
  }

  /** A slave's connection is gone. */
  close(session: number): void {
    this.#flows.delete(session)
  }

  /** The slave can take `n` more jobs. */
  grant(session: number, n: number): void {
    const flow = this.#flows.get(session)
    if (flow !== undefined) flow.credit += n
  }

  /** Credit of a session (0 if unknown). */
  creditOf(session: number): number {
    return this.#flows.get(session)?.credit ?? 0
  }

  /**
   * Sends queued jobs to the sessions that have credit, a batch per session per round,
   * until the buffer or the credit runs out. Returns the error that stops the run when a
   * job cannot be sent (too big for a frame, not plain data); its jobs are back in the
   * buffer, never sent.
   */
  dispatch(now: number): JobSourceError | undefined {
    const ledger = this.#ledger
    const sink = this.#sink
    this.#limited = false
    if (ledger.counts.queued === 0) return undefined
    const flows: Flow[] = []
    for (const flow of this.#flows.values()) if (flow.credit > 0 && sink.takesJobs(flow.session)) flows.push(flow)
    if (flows.length === 0) return undefined
    // The controls count jobs (rows) over the whole fleet: what goes out now is bounded here.
    let allowed = this.#controls.allowance(now, ledger.counts.inFlight)
    // Retries prefer another slave than the one they failed on, when another can take them.
    const avoid = flows.length > 1
    const free = (flow: Flow): number => Math.max(0, flow.slave.concurrency - ledger.inFlightCount(flow.session))
    const shares = fairShares(flows, free, allowed, ledger.counts.queued)
    // Each dispatch starts its rounds one slave further: no slave is first every time.
    const start = avoid ? this.#rounds++ % flows.length : 0
    let sent = true
    while (sent && ledger.counts.queued > 0 && allowed > 0) {
      sent = false
      for (let i = 0; i < flows.length; i++) {
        const at = (start + i) % flows.length
        const flow = flows[at]
        const share = shares === undefined ? Infinity : shares[at]
        if (flow.credit <= 0 || share <= 0 || !sink.takesJobs(flow.session)) continue
        const batchSize = this.#batchSizeOf(flow)
        const room = Math.min(flow.credit, ledger.counts.queued)
        if (holdsPartialFrame(room, batchSize, ledger.inFlightCount(flow.session), flow.slave.concurrency, ledger.hasReturnedJobs)) continue
        const batch = ledger.take(Math.min(flow.credit, batchSize, allowed, share), flow.session, now, avoid)
        const n = batch.jobs.length
        if (n === 0) continue
        flow.credit -= n
        allowed -= n
        if (shares !== undefined) shares[at] -= n
        this.#controls.spend(n)
        const error = this.#send(flow, batch)
        if (error !== undefined) return error
        sent = true
        if (allowed <= 0) break
      }
    }
    this.#limited = allowed <= 0 && ledger.counts.queued > 0 && flows.some((flow) => flow.credit > 0)
    return undefined
  }

  /**
   * Most jobs in a frame to this slave: --batch-size, and as many jobs as make a frame of
   * about FRAME_TARGET bytes (or the slave's frame limit, if smaller) at the last frame's
   * bytes per job.
   */
  #batchSizeOf(flow: Flow): number {
    if (this.#bytesPerJob === 0) return this.#options.batchSize
    return Math.min(this.#options.batchSize, Math.max(1, Math.floor(Math.min(FRAME_TARGET, this.#maxFrameOf(flow)) / this.#bytesPerJob)))
  }

  /** Largest frame the slave takes: the smaller of its --max-frame and the master's. */
  #maxFrameOf(flow: Flow): number {
    return Math.min(flow.slave.maxFrame, this.#options.maxFrame)
  }

  /** Encodes and sends a batch; a frame over the slave's limit is split in halves. */
  #send(flow: Flow, batch: Batch): JobSourceError | undefined {
    const n = batch.jobs.length
    let frame: EncodedFrame
    try {
      frame = this.#slabs.encode(batch, Math.ceil(this.#bytesPerJob * n))
    } catch {
      return this.#takeBack(flow, batch, this.#unencodable(batch))
    }
    const bytes = frame.bytes
    this.#bytesPerJob = bytes.length / n
    const maxFrame = this.#maxFrameOf(flow)
    if (bytes.length <= maxFrame) {
      this.#sink.sendFrame(flow.session, bytes, frame.release)
      return undefined
    }
    frame.release()
    if (n === 1) {
      const key = this.#ledger.entry(seqAt(batch, 0)).key
      const whose = maxFrame < this.#options.maxFrame ? `the --max-frame (${maxFrame}) of ${flow.slave.label}` : `--max-frame (${maxFrame})`
      const error = new JobSourceError(
        `Job ${String(key)} is ${bytes.length} bytes encoded, more than ${whose}; raise --max-frame on master and slaves`,
      )
      return this.#takeBack(flow, batch, error)
    }
    const half = n >> 1
    const rest = sliceJobs(batch, half, n)
    const error = this.#send(flow, sliceJobs(batch, 0, half))
    // The first half could not go (and went back): the second half goes back too.
    return error === undefined ? this.#send(flow, rest) : this.#takeBack(flow, rest, error)
  }

  /** Puts the jobs of a batch that did not go out back in the buffer, uncounted, with their credit. */
  #takeBack(flow: Flow, batch: Batch, error: JobSourceError): JobSourceError {
    for (const seq of seqsOf(batch)) this.#ledger.requeue(seq, flow.session, true)
    flow.credit += batch.jobs.length
    this.#controls.spend(-batch.jobs.length)
    return error
  }

  #unencodable(batch: Batch): JobSourceError {
    for (let i = 0; i < batch.jobs.length; i++) {
      try {
        encode({ type: 'jobs', first: 0, jobs: [batch.jobs[i]] })
      } catch (error) {
        const key = this.#ledger.entry(seqAt(batch, i)).key
        return new JobSourceError(`Job ${String(key)} cannot be sent to slaves (${(error as Error).message}); jobs must be plain data`)
      }
    }
    return new JobSourceError('A batch of jobs cannot be encoded')
  }
}
