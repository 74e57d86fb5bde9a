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
