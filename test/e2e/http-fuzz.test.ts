import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { matching } from '../helpers/matchers.js'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, expectEachKeyRan, fixture, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { fuzzCases } from '../helpers/http-fuzz.js'
import type { RawAnswer } from '../helpers/raw-http.js'
import { STATUS_LINE, rawRequest } from '../helpers/raw-http.js'
import { statusReader } from '../helpers/poll.js'
import { tearDown } from '../helpers/reliability.js'

// Hostile HTTP on the master's port during a live run, over raw TCP: the requests that once
// killed the master, then thousands of random and malformed ones. Every answer is a status
// line (or the connection closed), the master never exits early, and the run completes with
// every job done exactly once.

afterEach(tearDown)

const TOKEN = 's3cret-token-for-the-fuzz'
const N = 200
const SEED = Number(process.env.TM_FUZZ_SEED ?? 20250122)
const CASES = 1500
/** Requests in flight at once. */
const PARALLEL = 8

/** A request with a few headers and `Connection: close`, so the master's answer ends with the connection. */
const req = (line: string, headers: string[] = [], body = ''): string =>
  [line, 'Host: localhost', ...headers, 'Connection: close', '', body].join('\r\n')

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
/** A WebSocket upgrade request. */
const upgrade = (line: string, key = KEY, version = '13'): string =>
  [
    line,
    'Host: localhost',
    'Connection: Upgrade',
    'Upgrade: websocket',
    `Sec-WebSocket-Key: ${key}`,
    `Sec-WebSocket-Version: ${version}`,
    '',
    '',
  ].join('\r\n')

/** Requests whose answers are known: the ones that killed the master first. */
const KNOWN: [name: string, bytes: string | Buffer, status: number][] = [
  ['GET //[ (a path that reads as an authority)', req('GET //[ HTTP/1.1'), 400],
  ['POST //[/stop', req('POST //[/stop HTTP/1.1', ['Content-Length: 0']), 400],
  ['GET //x:99999/ (a valid path with no route)', req('GET //x:99999/ HTTP/1.1'), 426],
  ['OPTIONS //[', req('OPTIONS //[ HTTP/1.1'), 400],
  ['GET /%zz (an escape that does not decode)', req('GET /%zz HTTP/1.1'), 400],
  ['GET /status% (a cut escape)', req('GET /status% HTTP/1.1'), 400],
  ['GET * (no path)', req('GET * HTTP/1.1'), 400],
  [
    'bytes beyond ASCII in the path',
    Buffer.concat([Buffer.from('GET /st'), Buffer.from([0xff, 0xfe]), Buffer.from(req('atus HTTP/1.1').slice(3))]),
    400,
  ],
  // Over Node's 16 KB of headers, and in one read: a client still writing when refused may be reset instead.
  ['a header of 20 KB', req('GET /status HTTP/1.1', [`X-Huge: ${'a'.repeat(20_000)}`]), 431],
  ['Content-Length: abc', req('POST /rate HTTP/1.1', ['Content-Length: abc']), 400],
  // With the token (a master that has one reads the body only then): the body is what is wrong.
  ['chunked garbage', req('POST /rate HTTP/1.1', [`Authorization: Bearer ${TOKEN}`, 'Transfer-Encoding: chunked'], 'zz\r\nxx\r\n'), 400],
  ['a line of garbage', 'GARBAGE\r\n\r\n', 400],
  ['a WebSocket upgrade to //[', upgrade('GET //[ HTTP/1.1'), 400],
  ['a WebSocket upgrade with a bad key', upgrade('GET / HTTP/1.1', 'short'), 400],
  ['a WebSocket upgrade of version 99', upgrade('GET / HTTP/1.1', KEY, '99'), 400],
]

/** The known requests' answers: each expected status (with or without the token: a malformed request is refused before the token is asked). */
async function expectKnownAnswers(host: string): Promise<void> {
  const answers: [string, string][] = []
  for (const [name, bytes] of KNOWN) answers.push([name, (await rawRequest(host, bytes, { until: 'close', label: name })).line])
  expect(answers).toEqual(KNOWN.map(([name, , status]): [string, unknown] => [name, matching(new RegExp(`^HTTP/1\\.1 ${status} `))]))
}

/**
 * A connection that ended without a status line is right only where no request began
 * (empty lines, which HTTP skips), or where the client was still writing more than the master
 * reads before it refuses (16 KB of headers; a body it does not want) when the master answered
 * and closed: TCP then resets the connection, and the client's kernel drops the answer it had.
 */
const silentOk = (answer: RawAnswer, bytes: Buffer): boolean =>
  answer.text === '' && (/^[\r\n]*$/.test(bytes.toString('latin1')) || (answer.ended === 'reset' && bytes.length > 16 * 1024))

/** Sends every case, `PARALLEL` at a time; resolves with the answers, in the cases' order. */
async function sendAll(host: string, cases: { label: string; bytes: Buffer }[]): Promise<RawAnswer[]> {
  const answers: RawAnswer[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++
      const { label, bytes } = cases[i]
      answers[i] = await rawRequest(host, bytes, { until: 'line', end: true, label: `case ${i} (${label})`, timeoutMs: 60_000 })
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker))
  return answers
}

describe("the master's HTTP side under hostile requests", () => {
  for (const token of [undefined, TOKEN]) {
    it(`answers the requests that killed it and ${CASES} random ones ${token === undefined ? 'without' : 'with'} a token; the run completes, every job once`, async () => {
      // Jobs from 100 on wait for the go file: the run is live (jobs done, jobs held) for the whole fuzz.
      const box = sandbox({ TM_HOLD_FROM: String(N / 2), ...(token === undefined ? {} : { TM_TOKEN: token }) })
      const { master, host } = await startMaster([fixture('range.mjs'), `n=${N}`, ...masterArgs(box, 'fuzz'), '--quiet'], { env: box.env })
      const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2'], { env: box.env })
      const { statusWhere } = statusReader(token)
      await statusWhere(host, 'the run to hold at half its jobs', (doc) => doc.run.done === N / 2)

      await expectKnownAnswers(host)
      console.log(`HTTP fuzz: seed ${SEED} (set TM_FUZZ_SEED to replay), ${CASES} cases, ${token === undefined ? 'no token' : 'a token'}`)
      const cases = fuzzCases(SEED, CASES, token)
      const answers = await sendAll(host, cases)
      const wrong = answers.flatMap((answer, i) =>
        STATUS_LINE.test(answer.line) || silentOk(answer, cases[i].bytes)
          ? []
          : [`case ${i} (${cases[i].label}): ${JSON.stringify(answer.line.slice(0, 100))} (${answer.ended})`],
      )
      expect(wrong).toEqual([])
      const tally = new Map<string, number>()
      for (const answer of answers)
        tally.set(String(answer.status ?? answer.ended), (tally.get(String(answer.status ?? answer.ended)) ?? 0) + 1)
      console.log(`HTTP fuzz answers: ${[...tally].map(([what, n]) => `${what}: ${n}`).join(', ')}`)
      expect(master.child.exitCode, master.stderr).toBeNull()
      // The fuzz reached the routes: answers beyond refusals.
      expect(tally.get('200')).toBeGreaterThan(0)
      expect(master.stderr).not.toContain('    at ')

      // Whatever the fuzz set (a pause, a rate, a max in flight) is undone, then the held jobs go.
      const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
      for (const [path, body] of [
        ['/resume', ''],
        ['/rate', '{"value":null}'],
        ['/max-in-flight', '{"value":null}'],
      ] as const) {
        const res = await fetch(`http://${host}${path}`, { method: 'POST', headers: auth, body })
        expect(res.status, path).toBe(200)
      }
      writeFileSync(join(box.records, 'go'), '')
      expect(await master.exited, master.stderr).toEqual(EXIT_OK)
      expect(await slave.exited, slave.stderr).toEqual(EXIT_OK)
      expectEachKeyRan(box.records, N)
    })
  }
})
