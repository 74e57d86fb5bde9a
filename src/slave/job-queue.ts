import type { JobsMessage } from '../protocol/messages.js'

/** A batch of jobs as received, with the connection it came on and the index of its next job. */
export interface QueuedBatch {
  readonly message: JobsMessage
  readonly connection: number
  next: number
}

/**
 * The jobs a slave received and has not started, in the batches they came in (no
 * allocation per job), and the lanes waiting for them: for any job, or for a batch's
 * worth (a batch handler's linger). Closed when the slave is exiting: lanes end once it
 * is empty.
 */
export class JobQueue {
  #batches: QueuedBatch[] = []
  #length = 0
  #closed = false
  /** Wakes every lane waiting for a job (one promise shared by all of them). */
  #wake: (() => void) | undefined
  #wakeup: Promise<void> | undefined
  /** Lanes waiting for `#fillSize` jobs: woken when they are queued (or the queue is emptied or closed). */
  #fillWaiters: (() => void)[] = []
  #fillSize = Infinity

  /** Jobs queued. */
  get length(): number {
    return this.#length
  }

  /** Whether the slave is exiting: no job will be queued any more. */
  get closed(): boolean {
    return this.#closed
  }

  /** The batch the next job is in, or undefined when nothing is queued. */
  get head(): QueuedBatch | undefined {
    return this.#batches[0]
  }

  /** Queues a batch that came on `connection`. */
  push(message: JobsMessage, connection: number): void {
    if (message.jobs.length === 0) return
    this.#batches.push({ message, connection, next: 0 })
    this.#length += message.jobs.length
    if (this.#fillWaiters.length > 0 && this.#length >= this.#fillSize) this.#wakeFillers()
    const wake = this.#wake
    if (wake !== undefined) {
      this.#wake = undefined
      this.#wakeup = undefined
      wake()
    }
  }

  /** Takes the next job, of {@link head} (which must be there): its index in that batch's message. */
  take(): number {
    const batch = this.#batches[0]
    const i = batch.next++
    if (batch.next >= batch.message.jobs.length) this.#batches.shift()
    this.#length--
    return i
  }

  /** Removes every batch (with the jobs not started of each: from its `next`). */
  clear(): QueuedBatch[] {
    const batches = this.#batches
    this.#batches = []
    this.#length = 0
    this.#wakeFillers()
    return batches
  }

  /** Resolves when a job is queued or the queue is closed. */
  arrival(): Promise<void> {
    return (this.#wakeup ??= new Promise<void>((resolve) => (this.#wake = resolve)))
  }

  /** Resolves when `size` jobs are queued, the queue is emptied or closed, or `ms` pass. */
  filled(size: number, ms: number): Promise<void> {
    this.#fillSize = size
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#fillWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** No more jobs: lanes waiting wake, and end once the queue is empty. */
  close(): void {
    this.#closed = true
    this.#wake?.()
    this.#wakeFillers()
  }

  #wakeFillers(): void {
    const waiters = this.#fillWaiters
    if (waiters.length === 0) return
    this.#fillWaiters = []
    for (const wake of waiters) wake()
  }
}
