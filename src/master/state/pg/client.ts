/** What the PostgreSQL state store needs of a pg Client (pg is an optional peer dependency, loaded only when used). */
export interface PgClient {
  connect(): Promise<unknown>
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>
  end(): Promise<void>
  on(event: 'error', listener: (error: Error) => void): unknown
}

/** SQLSTATEs of a statement rolled back whole by a passing condition: written again, it may well pass. */
const TRANSIENT = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (lock_timeout)
  '57014', // query_canceled (statement_timeout, pg_cancel_backend)
])

/**
 * True for an error PostgreSQL raised after rolling the statement back, for a reason that
 * passes (a deadlock, a serialization failure, a lock or statement timeout): the same
 * statement may be sent again. A lost connection is not one: whether it committed is unknown.
 */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && TRANSIENT.has(code)
}
