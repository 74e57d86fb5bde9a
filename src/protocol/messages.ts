/**
 * Every message of the master/slave protocol, as one discriminated union on `type`.
 * Frames are binary WebSocket messages, each one MessagePack-encoded message
 * (see docs/protocol.md). Jobs are identified on the wire by their sequence number
 * (`seq`): the job's position in generator order, unique within a run.
 */

/** Version spoken by this build; a peer speaking another is refused. */
export const PROTOCOL_VERSION = 2

/** Smallest frame limit (--max-frame) either side may have, in bytes. */
export const MIN_FRAME = 1024

/** Longest `id` and `hostname` a slave may give in its hello (a POSIX host name is at most 255 bytes). */
export const MAX_SLAVE_TEXT = 255

/** What a slave tells about itself when it connects. */
export interface SlaveInfo {
  /** Random id the slave process keeps across reconnects (at most {@link MAX_SLAVE_TEXT} characters). */
  id: string
  /** The slave's host name (at most {@link MAX_SLAVE_TEXT} characters). */
  hostname: string
  pid: number
  concurrency: number
  /**
   * Largest frame the slave accepts (its --max-frame), in bytes. The master sends it no
   * larger frame. Optional within version 2: a slave that leaves it out gets frames up
   * to the master's own --max-frame.
   */
  maxFrame?: number
  /**
   * Set by a slave that runs a batch handler (`handleBatch`): the most jobs per call. Such
   * a slave times out each call itself, by the welcome's `jobTimeout` (it alone knows
   * which jobs share a call): the master leaves its late jobs to it. Optional within
   * version 2: a slave that leaves it out is timed out by the master, job by job.
   */
  batch?: number
  /**
   * Set by a slave that wants to know how far the run's finished jobs are durable: the
   * master then says it in the welcome and in `durable` messages (see {@link DurableMessage}).
   * Optional within version 2: a slave that leaves it out is sent neither.
   */
  durable?: boolean
}

/** Slave → master, first message on a connection. */
export interface HelloMessage {
  type: 'hello'
  version: number
  /** The run's token; absent when the master needs none. */
  token?: string
  slave: SlaveInfo
}

/** Master → slave, the answer to a valid `hello`. */
export interface WelcomeMessage {
  type: 'welcome'
  version: number
  /** Id of this master incarnation: a new one after each master restart. */
  run: string
  /** This connection's session number within the master incarnation. */
  session: number
  /** Seconds between the master's heartbeats (WebSocket pings). */
  heartbeat: number
  /**
   * The run's `name=value` arguments (the handler's `ctx.args`). Optional within version
   * 2: a welcome without it means none.
   */
  args?: Record<string, string>
  /**
   * The run's --job-timeout in seconds, when it has one: a slave that runs a batch handler
   * times out each call by it (see {@link SlaveInfo.batch}). Optional within version 2:
   * absent means no limit.
   */
  jobTimeout?: number
  /** The run's key (`--key`, a shard's suffix included). Optional within version 2: absent from older masters. */
  key?: string
  /**
   * The run's identity: 16 hex digits made when the run starts fresh and kept in its
   * checkpoint, so the same for every master that resumes it, and new after `--reset` (a
   * `--retry-failed` pass is a run of its own). Optional within version 2: absent from older masters.
   */
  identity?: string
  /**
   * Sent to a slave that asked ({@link SlaveInfo.durable}): every job of this incarnation
   * before this seq is finished, and the run's state store holds it (see {@link DurableMessage}).
   */
  durable?: number
}

/** Slave → master: it can take `n` more jobs (credit is additive). */
export interface CreditMessage {
  type: 'credit'
  n: number
}

/**
 * Master → slave: a batch of jobs. Job `jobs[i]` has seq `seqs[i]`, or `first + i` when
 * the seqs are consecutive (then `seqs` is left out: most batches, a third fewer bytes).
 */
export interface JobsMessage {
  type: 'jobs'
  /** Seq of `jobs[0]`, when the seqs are consecutive; else absent. */
  first?: number
  /** Seq of each job, when they are not consecutive; else absent. */
  seqs?: number[]
  jobs: unknown[]
  /** Attempt number (1 for the first try) of each job; absent when every job is on its first. */
  attempts?: number[]
}

/** Slave → master: these jobs finished, and `credit` more jobs can be taken. */
export interface AckMessage {
  type: 'ack'
  /** The finished jobs' seqs as runs: `[first, count, first, count, ...]` (see ranges.ts). */
  ranges: number[]
  credit: number
}

/** One job whose handler threw. */
export interface Failure {
  seq: number
  message: string
  stack?: string
}

/** Slave → master: these jobs failed, and `credit` more jobs can be taken. */
export interface FailMessage {
  type: 'fail'
  failures: Failure[]
  credit: number
}

/** Slave → master: these jobs were never started and go back to the buffer. */
export interface ReleaseMessage {
  type: 'release'
  seqs: number[]
}

/** Slave → master: resource use, sent with a period of a few seconds. */
export interface StatsMessage {
  type: 'stats'
  /** CPU use of the slave process since the last stats message, 0..cores. */
  cpu: number
  /** Resident set size in bytes. */
  rss: number
  /** Jobs running right now. */
  running: number
  /** Bytes received on this connection's socket so far (optional: older slaves leave it out). */
  netIn?: number
  /** Bytes sent on this connection's socket so far (optional: older slaves leave it out). */
  netOut?: number
}

/** Master → slave: stop working on these attempts (timed out); their results are ignored. */
export interface AbandonMessage {
  type: 'abandon'
  seqs: number[]
  /** The attempt of each job that is abandoned (a later attempt of it may follow). */
  attempts: number[]
}

/** Master → slave: the master is stopping; release unstarted jobs, finish running ones. */
export interface DrainMessage {
  type: 'drain'
}

/** Master → slave: every job of the run is finished; the slave may exit. */
export interface EndMessage {
  type: 'end'
}

/**
 * Master → slave, to a slave that asked ({@link SlaveInfo.durable}): every job before
 * `position` (seqs of this master incarnation) is finished, and the run's state store holds
 * it where a crash of the master's machine leaves it (a checkpoint written and synced, or a
 * PostgreSQL statement committed). No master, whatever is killed, runs those jobs again.
 * Sent when it moves, at most about once a second.
 */
export interface DurableMessage {
  type: 'durable'
  position: number
}

/** Either side, just before closing the connection: why. */
export interface ErrorMessage {
  type: 'error'
  code: string
  message: string
}

/** Messages a slave sends. */
export type SlaveMessage = HelloMessage | CreditMessage | AckMessage | FailMessage | ReleaseMessage | StatsMessage | ErrorMessage
/** Messages a master sends. */
export type MasterMessage = WelcomeMessage | JobsMessage | AbandonMessage | DrainMessage | EndMessage | DurableMessage | ErrorMessage
/** Any protocol message. */
export type Message = SlaveMessage | MasterMessage
