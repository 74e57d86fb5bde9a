// A live master's status document as the tests read it: GET /status (polled with
// `until`), the GET /events stream, and the lines of a --stats file.
import { readFileSync } from 'node:fs'
import { expect } from 'vitest'
import type { ControlUpdate, ControlsFigures, RunStatus } from '../../src/index.js'
import { recordedKeys } from './proc.js'
import { until } from './reliability.js'

/** What a run that was paused shows once it stands still; see {@link StatusReader.expectStandsStill}. */
interface PausedRun {
  /** The record handler's dir. */
  records: string
  /** Jobs recorded when the run was paused. */
  atPause: number
  /** When it was paused (ms since the epoch). */
  pausedAt: number
  /** Most jobs the slaves hold at once (concurrency + prefetch over the fleet): those may still run after the pause. */
  held: number
  /** The run's jobs. */
  total: number
}

/** A live master's status document, asked with the run's token (if it has one); its functions are free of `this`. */
interface StatusReader {
  /** GET /status of the master at `host`. */
  status: (host: string) => Promise<RunStatus>
  /** Polls /status (every 50 ms) until `probe` accepts a document built at or after `since` (ms since the epoch). */
  statusWhere: (host: string, what: string, probe: (doc: RunStatus) => boolean, since?: number, timeoutMs?: number) => Promise<RunStatus>
  /**
   * Asserts that a paused run stands still: once the jobs its slaves held are done (none
   * in flight) it is running, paused, with no other control; two status documents later
   * nothing more was done or sent; the jobs recorded are the jobs done, at most `held`
   * beyond those recorded at the pause, fewer than all. Resolves with that later document.
   */
  expectStandsStill: (host: string, paused: PausedRun) => Promise<RunStatus>
}

/** {@link StatusReader} of the runs whose token is `token` (none: of masters without one). */
export function statusReader(token?: string): StatusReader {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
  async function status(host: string): Promise<RunStatus> {
    const res = await fetch(`http://${host}/status`, { headers })
    return (await res.json()) as RunStatus
  }
  async function statusWhere(
    host: string,
    what: string,
    probe: (doc: RunStatus) => boolean,
    since = 0,
    timeoutMs = 60_000,
  ): Promise<RunStatus> {
    let last: RunStatus | undefined
    return until(
      () => `${what}; last status: ${JSON.stringify(last?.run)}`,
      async () => {
        const doc = (last = await status(host))
        return Date.parse(doc.time) >= since && probe(doc) ? doc : undefined
      },
      timeoutMs,
      50,
    )
  }
  async function expectStandsStill(host: string, { records, atPause, pausedAt, held, total }: PausedRun): Promise<RunStatus> {
    const still = await statusWhere(host, 'the paused run to stand still', (doc) => doc.run.inFlight === 0, pausedAt)
    expect(still.run).toMatchObject({
      state: 'running',
      controls: { paused: true, rate: null, maxInFlight: null, throttled: null, throttle: null },
    })
    const later = await statusWhere(host, 'two more status documents', () => true, Date.parse(still.time) + 2000)
    expect(later.run).toMatchObject({ done: still.run.done, inFlight: 0, queued: still.run.queued })
    const recorded = recordedKeys(records).length
    expect(recorded).toBe(later.run.done)
    expect(recorded - atPause).toBeLessThanOrEqual(held)
    expect(recorded).toBeLessThan(total)
    return later
  }
  return { status, statusWhere, expectStandsStill }
}

/** A watcher of GET /events: the response, and every document the stream carried so far. */
interface EventStream {
  status: number
  type: string | null
  docs: RunStatus[]
  /** The text read so far. */
  text(): string
  /** Resolves once the master ends the stream (or {@link stop} did); rejects if reading it failed otherwise. */
  ended: Promise<void>
  /** Closes the stream. */
  stop(): void
}

/** GETs `url` (an /events address) and reads its server-sent events as they come (nothing when refused). */
export async function followEvents(url: string): Promise<EventStream> {
  const abort = new AbortController()
  const response = await fetch(url, { signal: abort.signal })
  const docs: RunStatus[] = []
  let text = ''
  const read = async (): Promise<void> => {
    if (!response.ok) return
    const decoder = new TextDecoder()
    let pending = ''
    try {
      for await (const chunk of response.body!) {
        const value = decoder.decode(chunk, { stream: true })
        text += value
        pending += value
        let end: number
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const event = pending.slice(0, end)
          pending = pending.slice(end + 2)
          if (event.startsWith('data: ')) docs.push(JSON.parse(event.slice(6)) as RunStatus)
        }
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error
    }
  }
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    docs,
    text: () => text,
    ended: read(),
    stop: () => abort.abort(),
  }
}

/** A control line of a --stats file: what changed (in words and as a value), where from, and the controls after it. */
interface ControlLine {
  time: string
  control: string
  change: ControlUpdate
  source: { kind: string; address?: string }
  controls: ControlsFigures
}

/**
 * The whole lines of a --stats file: status documents and control lines (`"control":`). A
 * live master may be writing the last one as the test reads: text after the last newline
 * is not a line yet.
 */
function statsLines(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  lines.pop()
  return lines.filter((line) => line !== '')
}
const isControl = (line: string): boolean => line.includes('"control":')

/** The control lines of a --stats file. */
export function controlLines(file: string): ControlLine[] {
  return statsLines(file)
    .filter(isControl)
    .map((line) => JSON.parse(line) as ControlLine)
}

/** The status documents of a --stats file, one per time. */
export function statsDocuments(file: string): RunStatus[] {
  const docs = new Map<string, RunStatus>()
  for (const line of statsLines(file)) {
    if (isControl(line)) continue
    const doc = JSON.parse(line) as RunStatus
    docs.set(doc.time, doc)
  }
  return [...docs.values()]
}
