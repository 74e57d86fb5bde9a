/**
 * Every constant of the wire contract: close codes, close reasons, error codes and the
 * timing rules both sides follow. Neither side spells one of these itself.
 */

/** WebSocket close codes used (RFC 6455). */
export const CLOSE_CODE = {
  /** The run is complete, or a slave stops. */
  normal: 1000,
  /** The master stops. */
  goingAway: 1001,
  /** A frame that is not a valid message. */
  protocol: 1002,
  /** A text frame (the protocol is binary). */
  unsupported: 1003,
  /** Refused: no or wrong token, no hello in time, the master is full (maxSlaves). */
  policy: 1008,
} as const

/** Close reasons that carry meaning to the peer. */
export const CLOSE_REASON = {
  /** The master stops: slaves wait for it to come back. */
  masterStopping: 'master stopping',
  /** Every job of the run is finished. */
  runComplete: 'run complete',
  /**
   * A slave that stops after reporting every job it ran: the jobs still in flight on it
   * never ran, and go back without costing an attempt.
   */
  slaveStopping: 'slave stopping',
  /** A slave that stops with jobs running (a second stop, a fatal error). */
  slaveStoppedAtOnce: 'slave stopped at once',
  /** A slave that received a frame it cannot decode. */
  badFrame: 'bad frame',
} as const

/** `code` of the `error` message sent to a slave refused for its token. */
export const AUTH_ERROR_CODE = 'TM_ERR_AUTH'

/**
 * `code` of the `error` message sent to a slave refused because the master already serves
 * `maxSlaves` slaves: unlike the other refusals it passes, so the slave tries again later.
 */
export const FULL_ERROR_CODE = 'TM_ERR_FULL'

/** Seconds a new connection has to say hello. */
export const HELLO_TIMEOUT_S = 10

/**
 * Seconds the master gives a new TCP connection to upgrade to a WebSocket and say hello
 * before it destroys the socket (silent, or slow HTTP). Later than {@link HELLO_TIMEOUT_S},
 * so a WebSocket that says no hello is closed with its clear error first.
 */
export const SOCKET_DEADLINE_S = HELLO_TIMEOUT_S + 5

/** Milliseconds a slave waits for the master to answer its WebSocket upgrade request. */
export const OPENING_HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * Milliseconds either side that sent a close frame waits for the peer's before it cuts the
 * connection: a peer that never answers the close handshake holds nothing open.
 */
export const CLOSE_TIMEOUT_MS = 2000

/** Seconds between a slave's `stats` reports. */
export const STATS_INTERVAL_S = 2

/**
 * Milliseconds a slave holds finished jobs back for a bigger `ack` at most: the master's
 * hold rule counts on a busy slave's next ack (and the credit it carries) coming this soon.
 */
export const ACK_DELAY_MS = 20

/** The master drops a slave that answered no ping for this many heartbeat periods. */
export const MASTER_MISSED_HEARTBEATS = 2

/**
 * A gap in the master's own event loop (a SIGSTOP, a suspended machine, a long block)
 * longer than this many heartbeat periods is a stall of the master: its slaves may drop it
 * (a slave last pinged a period before the gap goes silent 1.5 periods into it), and the
 * pongs and frames they sent wait unread. Losses from then until
 * {@link MASTER_MISSED_HEARTBEATS} periods after it are the master's, not the slaves'.
 */
export const MASTER_STALL_HEARTBEATS = 1

/**
 * The slave drops a master it heard nothing from (ping or frame) for this many heartbeat
 * periods: more than the master's, so a slow master is not dropped before it drops us.
 */
export const SLAVE_MISSED_HEARTBEATS = 2.5

/** Close reasons are limited to 123 bytes by RFC 6455. */
export const MAX_CLOSE_REASON_BYTES = 123

/**
 * The failure of an attempt past --job-timeout, worded alike by the master (a job it takes
 * back) and a slave (a batch call it times out itself).
 */
export function timedOutMessage(seconds: number): string {
  return `Timed out after ${seconds} s (--job-timeout)`
}
