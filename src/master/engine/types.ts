import type { LogLine } from '../../log-line.js'
import type { ControlChange } from './controls.js'
import type { Session } from './session.js'
import type { RunStatus } from './status.js'

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

/**
 * The events of a {@link Master}, by name, with their arguments: `master.on(name, listener)`
 * takes a listener of these arguments (and only these names).
 */
export interface MasterEvents {
  /** The port is open: slaves may connect. */
  listening: [address: MasterAddress]
  /** A line for the log. */
  log: [line: LogLine]
  /** A status document: once a second while the run runs, at a stop and at the end. */
  status: [status: RunStatus]
  /** A change of the controls (those the run starts with first), or a stop asked from outside, with where it came from. */
  control: [change: ControlChange]
  /** A slave said hello and was let in. */
  'slave-connected': [session: Session]
  /** A slave went away (its jobs in flight go back to the buffer). */
  'slave-disconnected': [session: Session]
}

/** Where a run tells its master's listeners what happens (the master itself: {@link MasterEvents}). */
export interface RunEvents {
  emit<K extends keyof MasterEvents>(event: K, ...args: MasterEvents[K]): boolean
}
