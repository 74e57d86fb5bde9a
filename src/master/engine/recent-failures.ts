import type { FailedJob } from '../state/failed-log.js'
import type { FailureFigures } from './status.js'
import { jsonKey } from './status.js'

/** How many failed jobs the status document lists. */
export const RECENT_FAILURES = 20

/** Longest error message a listed failure keeps, in characters: the document stays small. */
export const MAX_ERROR_LENGTH = 500

/**
 * The last few jobs this master wrote to the failed-jobs log, for the status document.
 * Fed where the master logs a failed job (never on success: no cost on the hot path), a
 * ring of fixed size: memory stays constant however many jobs fail.
 */
export class RecentFailures {
  readonly #ring: (FailureFigures | undefined)[]
  /** Where the next failure goes. */
  #next = 0
  /** The list as last built: the same array until a failure comes. */
  #list: FailureFigures[] | undefined = []

  /** @param capacity how many failures are kept */
  constructor(capacity = RECENT_FAILURES) {
    this.#ring = new Array<FailureFigures | undefined>(capacity).fill(undefined)
  }

  /** Keeps `entry`, pushing out the oldest one when full. */
  add(entry: FailedJob): void {
    const message = entry.error.message
    const error = message.length > MAX_ERROR_LENGTH ? message.slice(0, MAX_ERROR_LENGTH - 1) + '…' : message
    this.#ring[this.#next] = { key: jsonKey(entry.key) ?? '', attempts: entry.attempts, error, at: entry.at }
    this.#next = (this.#next + 1) % this.#ring.length
    this.#list = undefined
  }

  /** The failures kept, newest first. */
  list(): FailureFigures[] {
    if (this.#list !== undefined) return this.#list
    const list: FailureFigures[] = []
    const size = this.#ring.length
    for (let i = 1; i <= size; i++) {
      const failure = this.#ring[(this.#next - i + size) % size]
      if (failure !== undefined) list.push(failure)
    }
    return (this.#list = list)
  }
}
