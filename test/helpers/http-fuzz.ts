// Random and malformed HTTP requests for the fuzz test of the master's port: request lines,
// headers, paths, methods and bodies built from pieces that have broken HTTP servers
// (authority-looking paths, bad escapes, bytes beyond ASCII, absurd sizes, lying lengths,
// chunked garbage, upgrade requests), then some of them mutated byte by byte.
import { seeded } from './reliability.js'

/** One request of the fuzz: its bytes, and a label that says how it was built (for a failure's message). */
export interface FuzzCase {
  label: string
  bytes: Buffer
}

const METHODS = [
  'GET',
  'GET',
  'GET',
  'HEAD',
  'POST',
  'POST',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'TRACE',
  'CONNECT',
  'get',
  'PoSt',
  'G ET',
  '',
  'X'.repeat(300),
  'GET\0',
  'M-SEARCH',
  'PRI',
]
const ROUTES = ['/', '/status', '/metrics', '/events', '/history', '/pause', '/resume', '/rate', '/max-in-flight']
const ODD_PATHS = [
  '//[',
  '//x:99999/',
  '//[/pause',
  '//[/rate',
  '*',
  'http://master/status',
  'http://[/status',
  '//',
  '/%',
  '/%zz',
  '/status%',
  '/%E0%A4%A',
  '/%00',
  '/%C0%AF',
  '/status?token=%',
  '/status?token=%E0%A4%A',
  '/./status',
  '/../status',
  '/status/..%2f',
  '/status#x',
  '\\status',
  'status',
  '',
  '/a[b]{c}|^`"<>',
  '/status?token=a&token=b',
]
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.1x',
  '',
  'http/1.1',
  'HTTP/1.10',
  'HTTP/9.9',
]
const HOSTS = [
  'localhost',
  'localhost',
  '127.0.0.1',
  '[::1]',
  'evil.example',
  'evil.example:80',
  '',
  '[',
  'x:99999',
  ' ',
  '127.0.0.1:0',
  'LOCALHOST',
  '127.1',
]
const ORIGINS = ['http://127.0.0.2:8000', 'null', 'http://evil.example', '%%%', 'http://localhost', 'http://[']
const FETCH_SITES = ['cross-site', 'same-site', 'same-origin', 'none', 'bogus']
const LENGTHS = ['0', '5', '-1', 'abc', '99999999999999999999', '1e3', ' 10', '10, 11', '']
const ENCODINGS = ['chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'bogus', 'chunked\0']
const BODIES = [
  '{"value": 5}',
  '{"value": null}',
  '{"value": 0}',
  '{"value":"x"}',
  '{"value": 1e309}',
  '{"value": 1e308}',
  '[]',
  'null',
  '{',
  '{"value": 5}'.repeat(1000),
  '\uFFFD\uD800',
  '',
]
const CHUNKED = [
  '5\r\nhello\r\n0\r\n\r\n',
  'zz\r\nxx\r\n',
  '5\r\nhel',
  'ffffffffffffffffff\r\n',
  '-1\r\n',
  '0\r\n\r\n',
  '3;ext="\r\nabc\r\n0\r\n\r\n',
  '5\r\nhelloXX0\r\n\r\n',
]

/**
 * `count` requests from `seed` (the same seed, the same requests). With `token`, some carry
 * it (as a header or in the query): those reach the routes behind it. None names `/stop`:
 * one that stopped the run would end the test's run before its jobs are done.
 */
export function fuzzCases(seed: number, count: number, token: string | undefined): FuzzCase[] {
  const random = seeded(seed)
  const int = (below: number): number => Math.floor(random() * below)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]
  const chance = (p: number): boolean => random() < p
  const bytes = (n: number, from = 0, to = 256): Buffer => Buffer.from(Array.from({ length: n }, () => from + int(to - from)))

  const path = (): Buffer => {
    const kind = int(10)
    if (kind < 4) return Buffer.from(pick(ROUTES) + (token !== undefined && chance(0.3) ? `?token=${token}` : ''))
    if (kind < 7) return Buffer.from(pick(ODD_PATHS))
    if (kind < 8) return Buffer.from('/' + 'a'.repeat(1 + int(20_000)))
    // Anything, bytes beyond ASCII and escapes included.
    const alphabet = Buffer.from('abz09/%[]:@?#&=.-_~ !$\'()*+,;\\^`{}|<>"')
    return Buffer.concat(
      Array.from({ length: 1 + int(40) }, () =>
        chance(0.15) ? bytes(1, 0x80) : chance(0.05) ? bytes(1, 0, 0x20) : Buffer.from([pick([...alphabet])]),
      ),
    )
  }

  const headers = (body: Buffer | undefined, chunked: boolean, plain: boolean): Buffer[] => {
    const lines: (string | Buffer)[] = []
    if (plain) {
      lines.push(`Host: ${pick(HOSTS.slice(0, 4))}`)
      if (token !== undefined && chance(0.7)) lines.push(`Authorization: Bearer ${token}`)
      if (body !== undefined) lines.push(`Content-Length: ${body.length}`)
      if (chance(0.2)) lines.push(`Origin: ${pick(ORIGINS)}`)
      return lines.map((line) => Buffer.from(line))
    }
    if (chance(0.9)) lines.push(`Host: ${pick(HOSTS)}`)
    if (token !== undefined && chance(0.4))
      lines.push(
        `Authorization: ${pick([`Bearer ${token}`, `Bearer ${token}`, 'Bearer wrong', 'Bearer', 'Basic abc', '', `Bearer ${'x'.repeat(5000)}`])}`,
      )
    if (chance(0.15)) lines.push(`Origin: ${pick(ORIGINS)}`)
    if (chance(0.15)) lines.push(`Sec-Fetch-Site: ${pick(FETCH_SITES)}`)
    if (chunked) lines.push(`Transfer-Encoding: ${pick(ENCODINGS)}`)
    if (body !== undefined && !chunked) {
      // Mostly the true length; sometimes a lie, a duplicate or nothing.
      const kind = int(10)
      if (kind < 6) lines.push(`Content-Length: ${body.length}`)
      else if (kind < 8) lines.push(`Content-Length: ${pick(LENGTHS)}`)
      else if (kind < 9) lines.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`)
    }
    if (chance(0.08))
      lines.push(
        'Connection: Upgrade',
        'Upgrade: websocket',
        `Sec-WebSocket-Key: ${chance(0.5) ? bytes(16).toString('base64') : 'short'}`,
        `Sec-WebSocket-Version: ${pick(['13', '13', '8', 'x'])}`,
      )
    if (chance(0.05)) lines.push(`Expect: ${pick(['100-continue', 'weird'])}`)
    if (chance(0.2)) lines.push(`Connection: ${pick(['close', 'keep-alive', 'Upgrade', ''])}`)
    if (chance(0.05)) lines.push(`X-Huge: ${'x'.repeat(int(70_000))}`)
    if (chance(0.03)) for (let i = int(3000); i > 0; i--) lines.push(`X-Many-${i}: ${i}`)
    if (chance(0.05)) lines.push(pick(['NoColon', 'X-Fold: a\r\n b', 'Bad Name: x', ': empty name', 'X-Nul: a\0b']))
    if (chance(0.05)) lines.push(Buffer.concat([Buffer.from('X-Bytes: '), bytes(1 + int(20), 0x80)]))
    if (chance(0.1)) lines.push('Content-Type: application/json')
    return lines.map((line) => (typeof line === 'string' ? Buffer.from(line) : line))
  }

  /** A request: half of them plain (a route, HTTP/1.1, a loopback Host, true lengths), so the routes' own code runs; the others built from any piece. */
  const request = (): { label: string; bytes: Buffer } => {
    const plain = chance(0.5)
    const method = plain ? pick(['GET', 'HEAD', 'POST', 'POST']) : pick(METHODS)
    const target = plain ? Buffer.from(pick(ROUTES)) : path()
    const version = plain ? 'HTTP/1.1' : pick(VERSIONS)
    const chunked = !plain && chance(0.1)
    const big = chance(0.004)
    const body = chunked
      ? Buffer.from(pick(CHUNKED))
      : big
        ? Buffer.alloc((1 + int(3)) * 1024 * 1024, 'x')
        : method.toUpperCase() === 'POST' || chance(0.1)
          ? chance(0.2)
            ? bytes(int(2000))
            : Buffer.from(pick(BODIES))
          : undefined
    const head = [
      Buffer.concat([Buffer.from(`${method} `), target, Buffer.from(version === '' ? '' : ` ${version}`)]),
      ...headers(body, chunked, plain),
    ]
    const crlf = Buffer.from(!plain && chance(0.03) ? '\n' : '\r\n')
    const parts: Buffer[] = []
    for (const line of head) parts.push(line, crlf)
    parts.push(crlf)
    if (body !== undefined) parts.push(body)
    const label = `${plain ? '' : 'odd: '}${method.slice(0, 20)} ${target.toString('latin1').slice(0, 60)} ${version}${chunked ? ' chunked' : ''}${body === undefined ? '' : ` body ${body.length} B`}`
    return { label, bytes: Buffer.concat(parts) }
  }

  const garbage = (): { label: string; bytes: Buffer } => {
    const kind = int(7)
    if (kind === 0) return { label: 'random bytes', bytes: bytes(int(2000)) }
    if (kind === 1) return { label: 'random printable bytes', bytes: bytes(int(2000), 0x20, 0x7f) }
    if (kind === 2) return { label: 'empty lines', bytes: Buffer.from('\r\n'.repeat(1 + int(10))) }
    if (kind === 3) return { label: 'a request line with no end', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n') }
    if (kind === 4)
      return { label: 'a TLS hello', bytes: Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), bytes(int(500))]) }
    if (kind === 5) return { label: 'the HTTP/2 preface', bytes: Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') }
    const [a, b] = [request(), request()]
    return { label: `pipelined: ${a.label} | ${b.label}`, bytes: Buffer.concat([a.bytes, b.bytes]) }
  }

  const mutate = (from: { label: string; bytes: Buffer }): { label: string; bytes: Buffer } => {
    const out = Buffer.from(from.bytes)
    for (let i = 1 + int(8); i > 0 && out.length > 0; i--) out[int(out.length)] = int(256)
    return { label: `mutated: ${from.label}`, bytes: out }
  }

  const cases: FuzzCase[] = []
  while (cases.length < count) {
    const kind = random()
    const made = kind < 0.15 ? garbage() : kind < 0.3 ? mutate(request()) : request()
    if (made.bytes.includes('stop')) continue
    cases.push(made)
  }
  return cases
}
