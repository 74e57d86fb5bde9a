// Helpers of the reliability end-to-end tests (failures, crashes, security, chaos):
// polling in bounded loops, long-lived slaves, the failed-jobs log and attempt records,
// seeded randomness and raw WebSocket clients speaking (or not) the protocol.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { Packr } from 'msgpackr'
import { expect } from 'vitest'
import WebSocket from 'ws'
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js'
import type { Exit, Proc } from './proc.js'
import { EXIT_OK, cleanUp, fixture, recordedKeys, tally } from './proc.js'

export const RANGE = fixture('range.mjs')
export const RECORD = fixture('record.mjs')
/** The handler that throws, hangs, exits or spins on the ids its environment names. */
export const FAULTY = fixture('rel-faulty.mjs')

/** Processes stopped with SIGSTOP: continued before {@link tearDown} ends them. */
const frozen = new Set<Proc>()

/** SIGSTOPs a process (a hung machine: its sockets stay open, it answers nothing). */
export function freeze(proc: Proc): void {
  proc.kill('SIGSTOP')
  frozen.add(proc)
}

/**
 * Waits for a run to end: the master with `masterExit` (0 unless given), every slave
 * with 0, each checked with its stderr shown on failure.
 */
export async function expectRunEnds(master: Proc, slaves: Proc[], masterExit: Exit = { code: 0, signal: null }): Promise<void> {
  const [exit, ...slaveExits] = await Promise.all([master.exited, ...slaves.map((slave) => slave.exited)])
  expect(exit, master.stderr).toEqual(masterExit)
  for (const [i, slave] of slaves.entries()) expect(slaveExits[i], slave.stderr).toEqual({ code: 0, signal: null })
}

/**
 * Ends a run whose slaves are long-lived (`--reconnect 0`): waits for the master to exit
 * with `masterExit` (0 unless given), then stops every slave still running with SIGTERM
 * and expects 0 from each. Whoever starts slaves that may outlive the run (started or
 * reconnecting near its end) starts them so: a slave cannot tell "no master yet" from
 * "the run is over", so a default one would retry for --reconnect and exit 4.
 */
export async function expectRunEndsThenStop(master: Proc, slaves: Proc[], masterExit: Exit = { code: 0, signal: null }): Promise<void> {
  expect(await master.exited, master.stderr).toEqual(masterExit)
  const exits = await Promise.all(slaves.map(stopLongLived))
  for (const [i, slave] of slaves.entries()) expect(exits[i], slave.stderr).toEqual(EXIT_OK)
}

/**
 * SIGTERMs a long-lived slave once it can take it: its signal handlers are set before its
 * first connection attempt, whose outcome it always logs (a SIGTERM during its start-up
 * would kill it by the signal). Resolves with its exit.
 */
export async function stopLongLived(slave: Proc): Promise<Exit> {
  const ready = slave.waitFor(/^tm-slave\[\d+\]: (Connected to the master at|No master at) /m, 'stderr')
  ready.catch(() => {
    // Exited first: its exit code tells what happened.
  })
  await Promise.race([ready, slave.exited])
  slave.kill('SIGTERM')
  return slave.exited
}

/**
 * Stops a master at once, as a second SIGTERM does (its held jobs never end), and a slave
 * that holds jobs with SIGKILL; asserts the master exits 143.
 */
export async function stopAtOnce(master: Proc, slave?: Proc): Promise<void> {
  master.kill('SIGTERM')
  await master.waitFor('Stopping: waiting for the jobs in flight')
  master.kill('SIGTERM')
  expect(await master.exited).toEqual({ code: 143, signal: null })
  if (slave !== undefined) await killHard(slave)
}

/** kill -9, and waits for the exit. */
export function killHard(proc: Proc): Promise<Exit> {
  proc.kill('SIGKILL')
  return proc.exited
}

/** For afterEach: continues stopped processes, ends every leftover one, removes temp dirs. */
export async function tearDown(): Promise<void> {
  for (const proc of frozen) proc.kill('SIGCONT')
  frozen.clear()
  await cleanUp()
}

/**
 * Polls `probe` (sync or async: its result is awaited) every `intervalMs` until it gives a
 * value other than undefined or false; gives up with an error naming `what` (a function:
 * asked then, to tell what it saw last) after `timeoutMs`.
 */
export async function until<T>(
  what: string | (() => string),
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Lines of `text` that match `pattern`. */
export function linesMatching(text: string, pattern: RegExp): string[] {
  return text.split('\n').filter((line) => pattern.test(line))
}

/** Lines written so far to the files of `dir` whose names start with `prefix`. */
export function linesIn(dir: string, prefix: string): string[] {
  const lines: string[] = []
  for (const file of readdirSync(dir)) {
    if (!file.startsWith(prefix)) continue
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) if (line !== '') lines.push(line)
  }
  return lines
}

/** Jobs recorded so far by the record handler in `dir`. */
export const recordedCount = (dir: string): number => linesIn(dir, 'record-').length

/** The attempt numbers the faulty handler was called with, by job id, in increasing order. */
export function attemptsByJob(dir: string): Map<number, number[]> {
  const byJob = new Map<number, number[]>()
  for (const line of linesIn(dir, 'attempts-')) {
    const [id, attempt] = line.split(' ').map(Number) as [number, number]
    byJob.set(
      id,
      [...(byJob.get(id) ?? []), attempt].sort((a, b) => a - b),
    )
  }
  return byJob
}

/** Attempt lists of `ids`, as an object (for one readable assertion). */
export function attemptsOf(dir: string, ids: number[]): Record<number, number[] | undefined> {
  const byJob = attemptsByJob(dir)
  return Object.fromEntries(ids.map((id) => [id, byJob.get(id)]))
}

/** One line of the failed-jobs log. */
export interface FailedLine {
  key: number
  job: { id: number }
  attempts: number
  error: { message: string; stack?: string }
  at: string
}

/** The failed-jobs log of run `key`, one object a line, sorted by key. */
export function readFailedLog(stateDir: string, key: string): FailedLine[] {
  const text = readFileSync(failedLogPath(stateDir, key), 'utf8')
  expect(text.endsWith('\n'), 'the failed-jobs log ends with a newline').toBe(true)
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as FailedLine)
    .sort((a, b) => a.key - b.key)
}

export const failedLogPath = (stateDir: string, key: string): string => join(stateDir, `${key}.failed.jsonl`)

/** True when run `key` has a failed-jobs log with something in it. */
export const hasFailures = (stateDir: string, key: string): boolean =>
  existsSync(failedLogPath(stateDir, key)) && readFileSync(failedLogPath(stateDir, key), 'utf8') !== ''

/**
 * Asserts every key 0..n-1 was recorded at least once and nothing else was; returns
 * the number of duplicate records (records beyond one per key).
 */
export function expectEachKeyAtLeastOnce(dir: string, n: number): number {
  const keys = recordedKeys(dir)
  const counts = tally(keys)
  const missing: number[] = []
  for (let id = 0; id < n; id++) if (!counts.has(String(id))) missing.push(id)
  expect(missing.slice(0, 20), `${missing.length} keys never recorded`).toEqual([])
  expect(counts.size, 'keys recorded that the generator does not yield').toBe(n)
  return keys.length - n
}

/** A seeded random number generator (mulberry32): the same seed, the same sequence. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Shuffles `items` in place (Fisher-Yates) with `random` (a {@link seeded} one: the same order each run); returns them. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

/** Plain MessagePack maps, as the protocol speaks them. */
export const wire = new Packr({ useRecords: false, mapsAsObjects: true })

/** A hello a raw client sends (this build's protocol version unless changed). */
export function hello(fields: Record<string, unknown> = {}): Buffer {
  return wire.pack({
    type: 'hello',
    version: PROTOCOL_VERSION,
    slave: { id: 'raw', hostname: 'raw-client', pid: 1, concurrency: 1 },
    ...fields,
  })
}

/** What a raw connection got before the master closed it. */
export interface RawOutcome {
  /** Close code the master sent. */
  code: number
  reason: string
  /** Binary frames received, decoded. */
  messages: unknown[]
  /** The client's port: the master's log names the connection by it. */
  localPort: number
}

/**
 * Opens a raw WebSocket to `url`, lets `send` write to it once open, and resolves
 * when the master closes the connection.
 */
export function rawExchange(url: string, send: (ws: WebSocket) => void): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    const messages: unknown[] = []
    let localPort = 0
    ws.on('open', () => {
      localPort = (ws as unknown as { _socket: { localPort: number } })._socket.localPort
      send(ws)
    })
    ws.on('message', (data: Buffer, isBinary: boolean) => messages.push(isBinary ? wire.unpack(data) : data.toString()))
    ws.on('error', () => {
      // The close event that follows carries the outcome.
    })
    ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString(), messages, localPort }))
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} instead of a WebSocket upgrade`)))
  })
}

/** Asserts that every id of 0..n-1 but `except` was recorded exactly once, and those never. */
export function expectOthersRanOnce(records: string, n: number, except: number[]): void {
  const counts = tally(recordedKeys(records))
  const wrong: string[] = []
  for (let id = 0; id < n; id++) {
    const want = except.includes(id) ? 0 : 1
    if ((counts.get(String(id)) ?? 0) !== want) wrong.push(`${id} recorded ${counts.get(String(id)) ?? 0} times, want ${want}`)
  }
  expect(wrong).toEqual([])
  expect(recordedKeys(records)).toHaveLength(n - except.length)
}

/**
 * A TCP port free a moment ago on 127.0.0.1, for the cases port 0 cannot serve: slaves
 * told in advance where masters will listen (started before any master exists, or given a
 * standby's address that listens only after a failover), or an address where none listens. Everything else binds port 0 and
 * reads the printed address.
 */
export function portForLater(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

/** The jobs done so far that a master said it resumed with (`Resuming 'key' at ...: N done`): what the master before made durable. */
export function resumedDone(stdout: string, key: string): number {
  const match = new RegExp(`^Resuming '${key}' at .*: ([\\d,]+) done and \\d+ failed so far`, 'm').exec(stdout)
  if (match === null) throw new Error(`no resume line in the standby's output:\n${stdout}`)
  return Number(match[1].replace(/,/g, ''))
}

/**
 * The most jobs that may run twice when a master goes while its 2 slaves had run
 * `ran` jobs: those finished but not durable in the state store (the journal is written
 * asynchronously: its last writes are lost, more under load), and those in flight then,
 * 2 slaves × (C running + C prefetched).
 */
export const repeatBound = (ran: number, durable: number, C: number): number => Math.max(0, ran - durable) + 2 * (C + C)
