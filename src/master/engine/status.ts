import { hostname } from 'node:os'
import type { JobKey } from '../../options.js'
import type { ControlsFigures } from './controls.js'

/** Milliseconds between two status documents: the one clock of every view of a run. */
export const STATUS_PERIOD_MS = 1000

/** How far back the moving rates look, in milliseconds. */
export const RATE_WINDOW_MS = 10_000

/**
 * Where a run is in its life: `starting` (opening its state, not listening yet), `running`,
 * `stopping` (no new jobs go out; waiting for the jobs in flight), then how it ended:
 * `complete`, `stopped`, or `already-complete` (the key was complete when the master started).
 */
export type RunState = 'starting' | 'running' | 'stopping' | 'complete' | 'stopped' | 'already-complete'

/**
 * The status document of a run: what the terminal line, `GET /status`, the stats stream
 * (`--stats`) and `tm-ctl status` all show. Built by the master once a second from plain
 * counters, so every view of one moment agrees. Plain JSON (no bigint, no Date): a key
 * that is a bigint is given as its decimal string. Times are ISO 8601 strings, durations
 * and ETAs milliseconds, rates jobs per second, sizes bytes.
 */
export interface RunStatus {
  /** When this document was built (ISO 8601). */
  time: string
  /** The run as a whole. */
  run: RunFigures
  /** The master's own process: its CPU, memory and the bytes through its port, beside the slaves'. */
  master: MasterFigures
  /** Every slave connected at `time`, in the order they connected. */
  slaves: SlaveFigures[]
  /** The last jobs (up to 20) this master wrote to the failed-jobs log, newest first. */
  failures: FailureFigures[]
}

/** A job in the failed-jobs log, in a {@link RunStatus}'s `failures`. */
export interface FailureFigures {
  /** The job's key (a bigint key as its decimal string). */
  key: string | number
  /** Attempts the job had, all failed. */
  attempts: number
  /** The last attempt's error message (cut at 500 characters). */
  error: string
  /** When the last attempt failed (ISO 8601). */
  at: string
}

/** The run's figures in a {@link RunStatus}. */
export interface RunFigures {
  /** The run's key (`--key`). */
  key: string
  /** The run's `name=value` arguments. */
  args: Record<string, string>
  /** Where the run is in its life. */
  state: RunState
  /** True when this master continues a run an earlier master started (a checkpoint was found). */
  resumed: boolean
  /** The position this master resumed at: jobs known finished when it started (0 on a fresh run). */
  resumedAt: number
  /** Jobs known finished contiguously from the generator's first: the watermark plus one. */
  position: number
  /** Key of the watermark job (the last of those `position` jobs): where a resume starts after; null before the first. */
  last: string | number | null
  /** Jobs done over the whole run (every master of it). */
  done: number
  /** Jobs written to the failed-jobs log over the whole run. */
  failed: number
  /** Jobs sent to slaves and not finished yet. */
  inFlight: number
  /** Jobs in the buffer, waiting for a slave. */
  queued: number
  /** Jobs waiting out a retry delay. */
  waiting: number
  /** Jobs this master skipped because an earlier master of the run had finished them. */
  skipped: number
  /**
   * Jobs of the whole run: the source's count (`total`), or an estimate when `totalEstimated`
   * (the source's `{ estimate }`, corrected from its `progress()` and never below the jobs
   * the run knows of); the jobs finished once complete; null when nothing tells.
   */
  total: number | null
  /** True when `total` is an estimate, not a count (views show it as `~1,000,000`); false without a total. */
  totalEstimated: boolean
  /**
   * Finished jobs (done + failed) over `total`, in percent (0-100): under 100 until every job
   * is finished, and never lower than this master's last document said; null without a total.
   */
  percent: number | null
  /** Jobs finished per second over the last ~10 s (this master's). */
  rate: number
  /**
   * Milliseconds left at `rate` for the jobs of `total` not finished yet, in whole seconds
   * rounded up; 0 only once every job is finished; null when unknown: without a total, while
   * the rate is 0, while paused or stopping, or when the total says nothing is left but the run is not done.
   */
  etaMs: number | null
  /** Milliseconds the whole run has run (every master of it, up to `time`). */
  elapsedMs: number
  /** When the run's first master started (ISO 8601). */
  startedAt: string
  /** This master's share of the run. */
  session: SessionFigures
  /**
   * The controls of dispatch now: `paused`, the fleet-wide `rate` (jobs/s) and `maxInFlight`
   * (null: no limit), `throttled` (why the throttle check holds dispatch, else null) and
   * `throttle` (the check, as given to --throttle, else null).
   */
  controls: ControlsFigures
}

/** What this master (the current incarnation of the run) did, in a {@link RunFigures}. */
export interface SessionFigures {
  /** Jobs done by this master. */
  done: number
  /** Jobs this master wrote to the failed-jobs log. */
  failed: number
  /** Milliseconds since this master started listening (0 before). */
  elapsedMs: number
  /** When this master started (ISO 8601). */
  startedAt: string
}

/** The master's own process in a {@link RunStatus}: the same figures as a slave's, measured by the master. */
export interface MasterFigures {
  /** Host name of the master's machine. */
  hostname: string
  /** Process id of the master. */
  pid: number
  /** CPU the master process used over the last status period (about a second), in percent of one core (200 = two cores). */
  cpuPercent: number
  /** Resident memory of the master process at `time`, in bytes. */
  rss: number
  /** Bytes the master's port received since it listened: every connection's (slaves' WebSockets, HTTP requests, the page's stream). */
  netIn: number
  /** Bytes the master's port sent since it listened, every connection's. */
  netOut: number
}

/** One connected slave in a {@link RunStatus}: a resource monitor's view of it. */
export interface SlaveFigures {
  /** The master's number for this connection (unique within a master's life). */
  id: number
  /** The slave's address as the master sees it (`ip:port`). */
  address: string
  /** Host name the slave reported. */
  hostname: string
  /** Process id the slave reported. */
  pid: number
  /** Jobs the slave runs at once. */
  concurrency: number
  /** When the slave connected (ISO 8601). */
  connectedAt: string
  /** Jobs this slave finished successfully on this connection. */
  done: number
  /** Failed attempts this slave reported on this connection (a failed attempt may be retried). */
  failed: number
  /** Jobs per second this slave finished (done and failed) over the last ~10 s. */
  rate: number
  /** Jobs in flight on this slave. */
  inFlight: number
  /** CPU the slave process used over its last report, in percent of one core (200 = two cores). */
  cpuPercent: number
  /** Resident memory of the slave process at its last report, in bytes. */
  rss: number
  /** Bytes the slave received on this connection, at its last report. */
  netIn: number
  /** Bytes the slave sent on this connection, at its last report. */
  netOut: number
}

/**
 * Jobs per second over a moving window, from samples of a growing counter taken on a timer
 * (never per job). Until two samples span some time, the rate is 0.
 */
export class MovingRate {
  readonly #window: number
  readonly #at: number[] = []
  readonly #count: number[] = []

  /** @param windowMs how far back the rate looks */
  constructor(windowMs = RATE_WINDOW_MS) {
    this.#window = windowMs
  }

  /** Records `count` at time `at` (ms) and returns the rate in jobs/s. */
  sample(count: number, at: number): number {
    this.#at.push(at)
    this.#count.push(count)
    // The oldest sample kept is the newest one at least a window old: the rate spans a full window.
    while (this.#at.length > 2 && this.#at[1] <= at - this.#window) {
      this.#at.shift()
      this.#count.shift()
    }
    const seconds = (at - this.#at[0]) / 1000
    return seconds > 0 ? (count - this.#count[0]) / seconds : 0
  }
}

/** A job key as JSON takes it. */
export function jsonKey(key: JobKey | undefined | null): string | number | null {
  if (key === undefined || key === null) return null
  return typeof key === 'bigint' ? key.toString() : key
}

/** The master's figures before it measured anything: its name and pid, zeros. */
export function idleMaster(): MasterFigures {
  return { hostname: hostname(), pid: process.pid, cpuPercent: 0, rss: 0, netIn: 0, netOut: 0 }
}

/** A document for a run that is not open yet (or was already complete). */
export function startingStatus(
  key: string,
  args: Record<string, string>,
  state: RunState = 'starting',
  now = Date.now(),
  master: MasterFigures = idleMaster(),
): RunStatus {
  const time = new Date(now).toISOString()
  return {
    time,
    run: {
      key,
      args: { ...args },
      state,
      resumed: false,
      resumedAt: 0,
      position: 0,
      last: null,
      done: 0,
      failed: 0,
      inFlight: 0,
      queued: 0,
      waiting: 0,
      skipped: 0,
      total: null,
      totalEstimated: false,
      percent: null,
      rate: 0,
      etaMs: null,
      elapsedMs: 0,
      startedAt: time,
      session: { done: 0, failed: 0, elapsedMs: 0, startedAt: time },
      controls: { paused: false, rate: null, maxInFlight: null, throttled: null, throttle: null },
    },
    master,
    slaves: [],
    failures: [],
  }
}
