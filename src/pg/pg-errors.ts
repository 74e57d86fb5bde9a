/**
 * Which errors of a PostgreSQL connection or statement exactlyOnce tries a batch's
 * transaction again after. A transaction that did not commit left nothing, and one whose
 * COMMIT was lost on the way did commit its claims with its writes: tried again, it finds
 * them. So every passing failure may be tried again, the lost connection included.
 */

/** SQLSTATE of a duplicate key: a claim already there. */
export const UNIQUE_VIOLATION = '23505'
/** SQLSTATE of a table that does not exist. */
export const UNDEFINED_TABLE = '42P01'

/** SQLSTATEs of a passing condition: the transaction was rolled back, or the server is going or coming. */
const PASSING = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
  '55P03', // lock_not_available (lock_timeout)
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
])

/** Errors of the socket under a connection (Node's codes). */
const SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])

/** pg's messages for a connection that ended under a query (they carry no code). */
const ENDED = /^Connection terminated|Client has encountered a connection error|Connection ended unexpectedly/

/** The SQLSTATE or Node code of an error, if it has one. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** True for an error that passes: a lost or refused connection, a server restarting, a deadlock. */
export function isPassing(error: unknown): boolean {
  const code = codeOf(error)
  if (code !== undefined) return PASSING.has(code) || code.startsWith('08') || SOCKET.has(code)
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === 'string' && ENDED.test(message)
}
