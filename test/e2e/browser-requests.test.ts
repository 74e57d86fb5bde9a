import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CTL_BIN, EXIT_OK, cleanUp, expectEachKeyRan, fixture, masterArgs, run, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { statusReader } from '../helpers/poll.js'
import { useChromium } from '../helpers/chromium.js'
import { rawRequest } from '../helpers/raw-http.js'
import { linesMatching } from '../helpers/reliability.js'

// A master without a token (on loopback) and the web pages its user opens: another site's
// page cannot drive its controls (a no-cors POST from 127.0.0.2 once paused a run), nor can a
// DNS name rebound to 127.0.0.1 read it; its own page, tm-ctl and curl work as before.

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
  await cleanUp()
})

const browser = useChromium()
const { status, statusWhere } = statusReader()

const N = 200
const UNCHANGED = { paused: false, rate: null, maxInFlight: null, throttled: null, throttle: null }

/** A request with `headers` that ends with its answer (Connection: close, unless `headers` say Connection). */
const req = (line: string, headers: string[], body = ''): string =>
  [
    line,
    ...headers,
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(headers.some((h) => h.startsWith('Connection:')) ? [] : ['Connection: close']),
    '',
    body,
  ].join('\r\n')

/** Starts a token-less run on loopback that holds at half its jobs (until the go file), with one slave. */
async function heldRun(): Promise<{ host: string; port: string; finish: () => Promise<void>; stderr: () => string }> {
  const box = sandbox({ TM_HOLD_FROM: String(N / 2) })
  const { master, host } = await startMaster([fixture('range.mjs'), `n=${N}`, ...masterArgs(box, 'browsers'), '--quiet'], { env: box.env })
  const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2'], { env: box.env })
  await statusWhere(host, 'the run to hold at half its jobs', (doc) => doc.run.done === N / 2)
  const finish = async (): Promise<void> => {
    writeFileSync(join(box.records, 'go'), '')
    expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    expect(await slave.exited, slave.stderr).toEqual(EXIT_OK)
    expectEachKeyRan(box.records, N)
  }
  return { host, port: host.split(':')[1], finish, stderr: () => master.stderr }
}

describe('a master without a token and web pages', () => {
  it('answers only loopback Host names, and takes POSTs and upgrades only from its own origin or from clients that are not browsers', async () => {
    const { host, port, finish, stderr } = await heldRun()
    const answer = async (bytes: string): Promise<string> => {
      const { line, text } = await rawRequest(host, bytes, { until: 'close' })
      return `${line} | ${text.split('\r\n\r\n')[1]?.trim()}`
    }
    const NOT_LOOPBACK =
      'HTTP/1.1 403 Forbidden | This master has no token: it answers only to loopback names (localhost, 127.0.0.1, [::1]); use one, or give the run a token'
    const CROSS_SITE =
      "HTTP/1.1 403 Forbidden | This master has no token: it takes controls only from its own page or from clients that are not browsers (tm-ctl, curl), not from another site's page"

    // DNS rebinding: a name the attacker's DNS points at 127.0.0.1 reads nothing, not even the page.
    for (const name of [
      `evil.example:${port}`,
      'evil.example',
      `127.0.0.1.evil.example:${port}`,
      `localhost.evil.example:${port}`,
      '[::2]',
    ])
      for (const path of ['/status', '/events', '/metrics', '/history', '/'])
        expect(await answer(req(`GET ${path} HTTP/1.1`, [`Host: ${name}`])), `${name} ${path}`).toBe(NOT_LOOPBACK)
    for (const name of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, '127.0.0.2', 'localhost'])
      expect(await answer(req('GET /status HTTP/1.1', [`Host: ${name}`])), name).toMatch(/^HTTP\/1\.1 200 OK \| \{/)

    // Another site's page: refused, whichever header tells it; the controls are unchanged.
    const self = `Host: 127.0.0.1:${port}`
    for (const headers of [
      ['Origin: http://127.0.0.2:8000'],
      ['Origin: null'],
      [`Origin: http://localhost:${Number(port) + 1}`],
      ['Sec-Fetch-Site: cross-site'],
      ['Sec-Fetch-Site: same-site'],
      ['Origin: http://127.0.0.2:8000', 'Sec-Fetch-Site: same-origin'],
    ]) {
      expect(await answer(req('POST /pause HTTP/1.1', [self, ...headers])), headers.join(', ')).toBe(CROSS_SITE)
      expect(
        await answer(req('POST /rate HTTP/1.1', [self, ...headers, 'Content-Type: application/json'], '{"value":0.01}')),
        headers.join(', '),
      ).toBe(CROSS_SITE)
    }
    const upgrade = [
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
    ]
    expect(await answer(req('GET / HTTP/1.1', [self, 'Origin: http://127.0.0.2:8000', ...upgrade]))).toBe(CROSS_SITE)
    expect(await answer(req('GET / HTTP/1.1', [`Host: evil.example:${port}`, `Origin: http://evil.example:${port}`, ...upgrade]))).toBe(
      NOT_LOOPBACK,
    )
    expect((await status(host)).run.controls).toEqual(UNCHANGED)
    expect(
      linesMatching(stderr(), /^Refused (GET|POST) \/\S* from 127\.0\.0\.1: a web page may have sent it \(Host or Origin\)$/),
    ).toHaveLength(5 * 5 + 6 * 2 + 2)

    // Its own origin (a default port compares equal), and tm-ctl (no Origin, no Sec-Fetch-Site).
    expect(await answer(req('POST /pause HTTP/1.1', [self, `Origin: http://127.0.0.1:${port}`, 'Sec-Fetch-Site: same-origin']))).toMatch(
      /^HTTP\/1\.1 200 OK \| \{"changed":"paused"/,
    )
    expect(await answer(req('POST /resume HTTP/1.1', ['Host: localhost', 'Origin: http://localhost:80']))).toMatch(
      /^HTTP\/1\.1 200 OK \| \{"changed":"resumed"/,
    )
    const ctl = await run(CTL_BIN, ['pause', '--host', host])
    expect(ctl.exit, ctl.stderr).toEqual(EXIT_OK)
    expect((await status(host)).run.controls.paused).toBe(true)
    expect((await run(CTL_BIN, ['resume', '--host', host])).exit).toEqual(EXIT_OK)

    await finish()
  })

  it("in Chromium: another site's no-cors POSTs change nothing; the master's own page pauses and resumes it", async () => {
    const { host, port, finish, stderr } = await heldRun()
    // The other site: a page on 127.0.0.2 (another origin of this machine) that POSTs to the master as a hostile page would.
    const site = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<script>
Promise.all([fetch('http://127.0.0.1:${port}/pause', { method: 'POST', mode: 'no-cors' }),
  fetch('http://127.0.0.1:${port}/rate', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"value":0.01}' })])
  .then(() => { document.title = 'sent' }, (error) => { document.title = 'failed: ' + error })
</script>`)
    })
    servers.push(site)
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.2', resolve))
    const page = await browser().newPage()
    await page.goto(`http://127.0.0.2:${(site.address() as { port: number }).port}/`)
    await page.waitForFunction(() => document.title !== '', undefined, { timeout: 30_000 })
    expect(await page.title()).toBe('sent')
    expect((await status(host)).run.controls).toEqual(UNCHANGED)
    expect(linesMatching(stderr(), /^Refused POST \/(pause|rate) from 127\.0\.0\.1: a web page may have sent it/)).toHaveLength(2)

    // The master's own page: same-origin POSTs.
    await page.goto(`http://${host}/`)
    await page.locator('#pause').getByText('Pause', { exact: true }).waitFor({ timeout: 30_000 })
    await page.locator('#pause').click()
    await page.locator('#answer').getByText('paused', { exact: true }).waitFor({ timeout: 30_000 })
    expect((await status(host)).run.controls.paused).toBe(true)
    await page.locator('#pause').click()
    await page.locator('#answer').getByText('resumed', { exact: true }).waitFor({ timeout: 30_000 })
    expect((await status(host)).run.controls).toEqual(UNCHANGED)
    await page.close()

    await finish()
  })
})
