import type { JobKey } from '../options.js'

/** How a run ended. */
export type Outcome = 'complete' | 'already-complete' | 'stopped'

/** What {@link Master.run} resolves with. */
export interface RunSummary {
  outcome: Outcome
  key: string
  /** Jobs finished by this incarnation (done + failed). */
  jobs: number
  done: number
  failed: number
  /** Jobs skipped because an earlier incarnation had finished them. */
  skipped: number
  /** Milliseconds this incarnation ran. */
  elapsedMs: number
  /** Jobs per second of this incarnation. */
  rate: number
  /** Over all incarnations of the run. */
  totals: { done: number; failed: number; elapsedMs: number }
  /** Path of the failed-jobs log. */
  failedLog: string
}

/** A snapshot for the status display. */
export interface MasterStatus {
  key: string
  /** Key of the job pulled from the generator last. */
  current: JobKey | undefined
  /** Jobs known finished contiguously from the first. */
  position: number
  /** Done over all incarnations. */
  done: number
  /** Failed over all incarnations. */
  failed: number
  inFlight: number
  queued: number
  /** Jobs waiting out a retry delay. */
  waiting: number
  slaves: number
  /** CPU the slaves report using, in cores, summed over slaves. */
  slaveCpu: number
  /** Resident memory the slaves report, in bytes, summed over slaves. */
  slaveRss: number
  total: number | undefined
  /** Milliseconds since this incarnation started. */
  elapsedMs: number
}

/** Where the master listens. */
export interface MasterAddress {
  host: string
  port: number
  /** `host:port`, as slaves take it. */
  hostPort: string
  /** `ws://host:port` or `wss://host:port`. */
  url: string
}

/** Jobs done and failed over all incarnations of a run. */
export interface RunTotals {
  done: number
  failed: number
}
