import type { RunStatus } from '../../src/index.js'

/**
 * Asks the async `probe` again every `intervalMs` until it gives a value other than
 * undefined or false (a master's status document changes once a second); gives up with
 * an error naming `what` after `timeoutMs`.
 */
export async function poll<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** A live master's status document, asked with the run's `token`. */
export interface StatusReader {
  /** GET /status of the master at `host`. */
  status(host: string): Promise<RunStatus>
  /** Polls /status (every 50 ms) until `probe` accepts a document built at or after `since` (ms since the epoch). */
  statusWhere(host: string, what: string, probe: (doc: RunStatus) => boolean, since?: number, timeoutMs?: number): Promise<RunStatus>
}

/** {@link StatusReader} of the runs whose token is `token`. */
export function statusReader(token: string): StatusReader {
  async function status(host: string): Promise<RunStatus> {
    const res = await fetch(`http://${host}/status`, { headers: { authorization: `Bearer ${token}` } })
    return (await res.json()) as RunStatus
  }
  async function statusWhere(host: string, what: string, probe: (doc: RunStatus) => boolean, since = 0, timeoutMs = 60_000): Promise<RunStatus> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const doc = await status(host)
      if (Date.parse(doc.time) >= since && probe(doc)) return doc
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; last status: ${JSON.stringify(doc.run)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return { status, statusWhere }
}
