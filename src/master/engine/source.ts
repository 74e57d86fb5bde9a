import { JobSourceError } from '../../errors.js'
import type { GeneratorContext, JobKey, JobSource, PagedGenerator } from '../../options.js'
import type { KeyReader } from './job-key.js'
import { keyReader } from './job-key.js'
import type { Ledger } from './ledger.js'
import type { SkipSet } from '../state/skip-set.js'
import { thrownLine, typeName } from '../../user-code.js'
import { yieldToIO } from '../../yield-to-io.js'

/** Jobs pulled between two yields to the event loop, so sockets are served. */
const CHUNK = 1024

/**
 * Pulls the user's generator into the ledger, only while the buffer is under its cap
 * (backpressure): the dataset is the queue. Each job gets the next seq and its key;
 * jobs an earlier incarnation finished (in the skip set) are recorded, not queued.
 */
export class Source {
  readonly #source: JobSource
  readonly #ledger: Ledger
  readonly #skip: SkipSet
  readonly #size: number
  readonly #lowWater: number
  readonly #readKey: KeyReader
  readonly #onJobs: () => void
  #parked: (() => void) | undefined
  #stopped = false
  #iterator: Iterator<unknown> | AsyncIterator<unknown> | undefined
  /** The generator has no more jobs. */
  exhausted = false
  /** Key of the job pulled last (the status line's "Current Job"). */
  current: JobKey | undefined

  /**
   * @param onJobs called when jobs were added or the generator ended, so the master dispatches
   */
  constructor(source: JobSource, ledger: Ledger, skip: SkipSet, size: number, onJobs: () => void) {
    this.#source = source
    this.#ledger = ledger
    this.#skip = skip
    this.#size = size
    this.#lowWater = Math.floor(size * 0.75)
    this.#readKey = keyReader(source)
    this.#onJobs = onJobs
  }

  /** Pulls until the generator ends or {@link stop}; rejects with the generator's error. */
  async run(last: JobKey | undefined, ctx: GeneratorContext): Promise<void> {
    const { iterator: it, isAsync, nextPage } = iteratorOf(() => this.#source.getJobs(last, ctx))
    this.#iterator = it
    const ledger = this.#ledger
    const skip = this.#skip
    const readKey = this.#readKey
    // A paged generator is read a page at a time: an await a page, not a job.
    let page: readonly unknown[] = []
    let at = 0
    while (!this.#stopped) {
      // Room is counted once per chunk: the buffer only drains while this loop waits.
      const room = Math.min(this.#size - ledger.counts.queued, ledger.capacity - ledger.span)
      if (room <= 0) {
        this.#onJobs()
        await new Promise<void>((resolve) => (this.#parked = resolve))
        continue
      }
      const chunk = Math.min(room, CHUNK)
      let key: JobKey | undefined
      for (let n = 0; n < chunk && !this.#stopped; n++) {
        let job: unknown
        if (nextPage !== undefined) {
          if (at === page.length) {
            const next = await pageOf(nextPage)
            if (next === undefined) {
              this.exhausted = true
              break
            }
            page = next
            at = 0
            // An empty page holds no job: the next one is asked for.
            n--
            continue
          }
          job = page[at++]
        } else {
          try {
            const r = it.next()
            // A sync iterator's results are used as they are: no promise per job.
            const result = isAsync ? await r : (r as IteratorResult<unknown>)
            // Read here: a result is the user's object too (a Proxy's getters may throw).
            if (result.done) {
              this.exhausted = true
              break
            }
            job = result.value
          } catch (error) {
            throw generatorError(error)
          }
        }
        const seq = ledger.next
        key = readKey(job, seq)
        if (skip.size > 0 && skip.take(seq, key)) ledger.addSkipped(key)
        else ledger.add(job, key)
      }
      if (key !== undefined) this.current = key
      if (this.exhausted) break
      if (chunk === CHUNK) {
        this.#onJobs()
        await yieldToIO()
      }
    }
    this.#onJobs()
  }

  /** Resumes pulling if the buffer has drained to its low-water mark. */
  wake(): void {
    const resume = this.#parked
    if (resume === undefined) return
    if (this.#ledger.counts.queued > this.#lowWater || !this.#ledger.hasRoom) return
    this.#parked = undefined
    resume()
  }

  /**
   * Stops pulling; the generator is asked to close (its `finally` blocks run). Not
   * awaited: a generator blocked in an `await` would hold the stop until it resumes.
   */
  stop(): void {
    this.#stopped = true
    const resume = this.#parked
    this.#parked = undefined
    resume?.()
    try {
      const closing = this.#iterator?.return?.() as Promise<unknown> | IteratorResult<unknown> | undefined
      if (closing !== undefined && typeof (closing as Promise<unknown>).then === 'function')
        (closing as Promise<unknown>).then(undefined, () => {})
    } catch {
      // A generator that throws while closing changes nothing for the run.
    }
  }
}

/** The next page of a paged generator (undefined at its end); what is not an array is refused in one line. */
async function pageOf(nextPage: () => Promise<readonly unknown[] | undefined>): Promise<readonly unknown[] | undefined> {
  let page: unknown
  try {
    page = await nextPage()
  } catch (error) {
    throw generatorError(error)
  }
  if (page === undefined || Array.isArray(page)) return page as readonly unknown[] | undefined
  throw new JobSourceError(
    `The generator's nextPage() returned ${typeName(page)}; it must return an array of jobs, or undefined once there are no more`,
  )
}

/** What the generator threw, as one line with its file and line (the CLI prints no stack for it). */
function generatorError(error: unknown): JobSourceError {
  return new JobSourceError(`The generator threw: ${thrownLine(error)}`)
}

/**
 * The iterator of what `getJobs()` returns (a generator or any iterable), async or not.
 * Whatever the user's code throws on the way (getJobs itself, a getter of what it
 * returned) is the generator's error.
 */
function iteratorOf(getJobs: () => unknown): {
  iterator: Iterator<unknown> | AsyncIterator<unknown>
  isAsync: boolean
  nextPage?: () => Promise<readonly unknown[] | undefined>
} {
  let produced: unknown
  try {
    produced = getJobs()
    if (produced !== null && typeof produced === 'object') {
      const p = produced as {
        [Symbol.asyncIterator]?: () => AsyncIterator<unknown>
        [Symbol.iterator]?: () => Iterator<unknown>
        nextPage?: unknown
      }
      if (typeof p[Symbol.asyncIterator] === 'function') {
        const iterator = p[Symbol.asyncIterator]!()
        // A PagedGenerator (keyset, pgTable): its pages, when it is its own iterator.
        const paged = iterator === produced && typeof p.nextPage === 'function' ? (produced as PagedGenerator<unknown>) : undefined
        return { iterator, isAsync: true, nextPage: paged === undefined ? undefined : () => paged.nextPage() }
      }
      if (typeof p[Symbol.iterator] === 'function') return { iterator: p[Symbol.iterator]!(), isAsync: false }
    }
  } catch (error) {
    throw generatorError(error)
  }
  throw new JobSourceError(
    `getJobs() returned ${produced === null ? 'null' : typeof produced}; it must be a generator (function*, async function*) or return an iterable`,
  )
}
