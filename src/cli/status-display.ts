import { MultiBar } from 'cli-progress'
import type { SingleBar } from 'cli-progress'
import type { Master, MasterStatus } from '../master/master.js'
import { RateMeter } from './rate-meter.js'
import { formatDuration, formatRate } from './format.js'

/** Options of the status display. */
export interface StatusDisplayOptions {
  /** Redraw in place with cli-progress (a terminal); else print plain lines. */
  tty: boolean
  /** Seconds between plain lines when not on a terminal. */
  interval: number
  out: NodeJS.WriteStream | NodeJS.WritableStream
  err: NodeJS.WritableStream
}

/** The fields of the status line, computed from a status snapshot. */
export function statusFields(status: MasterStatus, rate: number): Record<string, string | number> {
  return {
    current: status.current === undefined ? '-' : String(status.current),
    rate: formatRate(rate),
    elapsed: formatDuration(status.elapsedMs),
    done: status.done,
    inFlight: status.inFlight,
    queued: status.queued,
    failed: status.failed,
    slaves: status.slaves,
    slaveUsage: status.slaves === 0 ? '' : ` (cpu ${status.slaveCpu.toFixed(2)}, ${Math.round(status.slaveRss / 1048576)} MB)`,
  }
}

/** The plain status line (no escape codes). */
export function statusLine(f: Record<string, string | number>): string {
  return `Current Job: ${f.current} | Rate: ${f.rate}/s | Elapsed Time: ${f.elapsed} | done ${f.done} | in flight ${f.inFlight} | queued ${f.queued} | failed ${f.failed} | slaves ${f.slaves}${f.slaveUsage}`
}

const TTY_FORMAT = 'Current Job: {current} | Rate: {rate}/s | Elapsed Time: {elapsed} | done {done} | in flight {inFlight} | queued {queued} | failed {failed} | slaves {slaves}{slaveUsage}'

/**
 * The master's live status line: cli-progress redrawing in place on a terminal (with a
 * bar and ETA when the module exports `total`), plain periodic lines otherwise.
 */
export class StatusDisplay {
  readonly #master: Master
  readonly #options: StatusDisplayOptions
  readonly #rate = new RateMeter()
  #multibar: MultiBar | undefined
  #bar: SingleBar | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(master: Master, options: StatusDisplayOptions) {
    this.#master = master
    this.#options = options
  }

  /** Starts drawing (terminal) or printing (otherwise). */
  start(): void {
    const status = this.#master.status()
    // The first sample: until the window fills, the rate is the mean since the start.
    this.#rate.sample(status.done + status.failed)
    if (this.#options.tty) {
      const total = status.total
      const format = total !== undefined ? `{bar} {percentage}% | ETA: {eta_formatted} | ${TTY_FORMAT}` : TTY_FORMAT
      this.#multibar = new MultiBar({ format, hideCursor: true, fps: 5, stream: this.#options.out, etaBuffer: 50, barsize: 20 })
      this.#bar = this.#multibar.create(total ?? 0, status.done + status.failed, statusFields(status, 0))
      this.#timer = setInterval(() => this.#redraw(), 200)
    } else {
      this.#timer = setInterval(() => this.#print(), this.#options.interval * 1000)
    }
    this.#timer.unref()
  }

  #sample(): { status: MasterStatus; fields: Record<string, string | number> } {
    const status = this.#master.status()
    const fields = statusFields(status, this.#rate.sample(status.done + status.failed))
    return { status, fields }
  }

  #redraw(): void {
    const { status, fields } = this.#sample()
    this.#bar?.update(status.done + status.failed, fields)
  }

  #print(): void {
    this.#options.out.write(statusLine(this.#sample().fields) + '\n')
  }

  /** A log line that does not break the status line. */
  log(message: string): void {
    if (this.#multibar) this.#multibar.log(message + '\n')
    else this.#options.err.write(message + '\n')
  }

  /** Draws or prints the last status and stops. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    if (this.#multibar) {
      this.#redraw()
      this.#multibar.stop()
    } else if (this.#timer) {
      this.#print()
    }
  }
}
