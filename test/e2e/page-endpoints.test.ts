import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { HistoryDocument } from '../../src/index.js'
import { EXIT_OK, cleanUp, fixture, masterArgs, sandbox, startMaster, startSlave, tempDir } from '../helpers/proc.js'
import { followEvents, statusReader } from '../helpers/poll.js'
import { until } from '../helpers/reliability.js'

// The web page's side of the master's port with the real bins: GET / (the page, which holds
// nothing of the run), GET /events (the status document as server-sent events, token-guarded),
// and the page's address printed at start, with the token only where it is safe.

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-the-page'
const { statusWhere } = statusReader(TOKEN)

describe('the web page’s endpoints', () => {
  it('GET / is the page with nothing of the run in it; GET /events streams the documents of /status to holders of the token', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '100' })
    const { master, host } = await startMaster(
      [fixture('range-total.mjs'), 'n=300', 'table=posts', ...masterArgs(box, 'watched'), '--quiet'],
      { env: box.env },
    )
    // Its output is no terminal: the token stays out of the link (the unit test has the terminal's case).
    await master.waitFor(
      `Status page: http://${host}/ (add ?token=<the run's token>: the link holds the token only on a terminal, never in a log)\n`,
      'stdout',
    )
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2', '--prefetch', '2'], { env: box.env })

    // The page: served to anyone (it asks for the token), holding no figure, key or argument.
    const page = await fetch(`http://${host}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('referrer-policy')).toBe('no-referrer')
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    expect(page.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'$/,
    )
    const html = await page.text()
    expect(html).toMatch(/^<!doctype html>/)
    expect(html).toContain('<title>Taskmaster</title>')
    for (const secret of ['watched', 'posts', TOKEN]) expect(html).not.toContain(secret)
    expect(Buffer.byteLength(html)).toBeLessThan(16 * 1024)

    // Without the token: 401, no stream.
    const refused = await fetch(`http://${host}/events`)
    expect(refused.status).toBe(401)
    expect(await refused.text()).toBe("This run's figures need its token: send Authorization: Bearer <token> or add ?token=<token>\n")

    const stream = await followEvents(`http://${host}/events?token=${TOKEN}`)
    expect(stream.status).toBe(200)
    expect(stream.type).toBe('text/event-stream; charset=utf-8')
    // The run stands at 100 done; a document of /status is one the stream carried.
    const doc = await statusWhere(host, 'the run to stand at 100 done', (status) => status.run.done === 100 && status.run.inFlight === 4)
    const streamed = await until(
      'the stream to carry the document of /status',
      () => stream.docs.find((d) => d.time === doc.time),
      60_000,
      100,
    )
    expect(streamed).toEqual(doc)
    expect(stream.text()).toMatch(/^retry: 2000\n\ndata: \{/)
    // One a second: the stream goes on.
    await until('a later document', () => stream.docs.some((d) => d.time > doc.time), 60_000, 100)
    stream.stop()

    writeFileSync(join(box.records, 'go'), '')
    expect(await master.exited).toEqual(EXIT_OK)
    expect(await slave.exited).toEqual(EXIT_OK)
    expect(master.stderr).not.toContain(TOKEN)
    expect(master.stdout).not.toContain(TOKEN)
  })

  it('GET /history gives holders of the token the run’s figures from this master’s start, a point a second', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '100' })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=300', ...masterArgs(box, 'history'), '--quiet'], {
      env: box.env,
    })
    const first = await statusWhere(host, 'a first document', () => true)
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2', '--prefetch', '2'], { env: box.env })
    const held = await statusWhere(host, 'the run to stand at 100 done', (status) => status.run.done === 100 && status.run.inFlight === 4)

    // Without the token, or with a wrong one: 401, nothing of the run.
    const refused = await fetch(`http://${host}/history`)
    expect(refused.status).toBe(401)
    expect(await refused.text()).toBe("This run's figures need its token: send Authorization: Bearer <token> or add ?token=<token>\n")
    expect((await fetch(`http://${host}/history?token=wrong`)).status).toBe(401)

    const answer = await fetch(`http://${host}/history`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const history = (await answer.json()) as HistoryDocument
    expect(Object.keys(history)).toEqual(['version', 'startedAt', 'run', 'master', 'slaves', 'omitted'])
    expect(history).toMatchObject({ version: 2, startedAt: first.run.session.startedAt, omitted: 0 })
    const points = history.run
    for (const point of points)
      expect(Object.keys(point).sort()).toEqual(['done', 'failed', 'inFlight', 'queued', 'rate', 'samples', 'time'])
    // From the master's first second (before any document the test read, before the slave came), a point a second, in order.
    expect(points[0]).toMatchObject({ samples: 1, done: 0, failed: 0, rate: 0, inFlight: 0 })
    expect(Date.parse(points[0].time)).toBeLessThanOrEqual(Date.parse(first.time))
    expect(points.every((p) => p.samples === 1)).toBe(true)
    const times = points.map((p) => Date.parse(p.time))
    expect(times.slice(1).every((t, i) => t > times[i])).toBe(true)
    expect(points.slice(1).every((p, i) => p.done >= points[i].done)).toBe(true)
    expect(points.some((p) => p.rate > 0)).toBe(true)
    // Up to the document of /status the test read last: the run standing at 100 done.
    expect(points.at(-1)!.time >= held.time).toBe(true)
    expect(points.at(-1)).toMatchObject({ done: 100, failed: 0, inFlight: 4 })
    // The master's own figures on the same times; the slave's, by its name, since it came.
    expect(history.master.map((p) => p.time)).toEqual(points.map((p) => p.time))
    for (const point of history.master)
      expect(Object.keys(point).sort()).toEqual(['cpuPercent', 'netIn', 'netOut', 'rss', 'samples', 'time'])
    expect(history.master.at(-1)!.rss).toBeGreaterThan(0)
    expect(history.master.at(-1)!.netIn).toBeGreaterThan(0)
    expect(history.slaves).toEqual([
      {
        id: held.slaves[0].id,
        name: `${hostname()}:${slave.child.pid}`,
        address: held.slaves[0].address,
        connectedAt: held.slaves[0].connectedAt,
        leftAt: null,
        points: expect.any(Array) as unknown,
      },
    ])
    const slavePoints = history.slaves[0].points
    expect(slavePoints.length).toBeGreaterThan(0)
    for (const point of slavePoints) expect(Object.keys(point).sort()).toEqual(['cpuPercent', 'netIn', 'netOut', 'rss', 'samples', 'time'])
    expect(Date.parse(slavePoints[0].time)).toBeGreaterThanOrEqual(Date.parse(held.slaves[0].connectedAt))
    // The same with ?token= (what the page's EventSource would need; the page itself sends the header).
    expect((await fetch(`http://${host}/history?token=${TOKEN}`)).status).toBe(200)

    writeFileSync(join(box.records, 'go'), '')
    expect(await master.exited).toEqual(EXIT_OK)
    expect(await slave.exited).toEqual(EXIT_OK)
  })

  it('keeps a watcher’s stream open past the deadline of connections that never say hello', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN })
    // No slave: the run stays live.
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=5', ...masterArgs(box, 'long-watch'), '--quiet'], {
      env: box.env,
    })
    const stream = await followEvents(`http://${host}/events?token=${TOKEN}`)
    const first = await until('the first document', () => stream.docs[0], 60_000, 100)
    // The master cuts a connection without a hello after 15 s (HELLO_TIMEOUT_S + 5): the stream outlives that.
    await until(
      'a document 20 s after the first, on the same stream',
      () => stream.docs.some((d) => Date.parse(d.time) >= Date.parse(first.time) + 20_000),
      60_000,
      100,
    )
    stream.stop()
    master.kill('SIGTERM')
    expect((await master.exited).code).toBe(143)
  }, 90_000)

  it('prints the page without its token off loopback without TLS, and says why', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN })
    const { master, host } = await startMaster(
      [fixture('range-total.mjs'), 'n=5', '--key', 'wide', '--state-dir', box.stateDir, '--host', '0.0.0.0:0', '--quiet'],
      { env: box.env },
    )
    const port = host.split(':').pop()
    await master.waitFor(
      `Status page: http://${hostname()}:${port}/ (add ?token=<the run's token>: a master listening beyond loopback without TLS never prints its token in a link)\n`,
      'stdout',
    )
    master.kill('SIGTERM')
    expect((await master.exited).code).toBe(143)
    expect(master.stdout + master.stderr).not.toContain(TOKEN)
  })

  it('prints the https page under TLS (no token in a log), and the bare page for a master without a token', async () => {
    const dir = tempDir()
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')]
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert],
      { stdio: 'ignore' },
    )
    const box = sandbox({ TM_TOKEN: 'a+b&c' })
    const tls = await startMaster(
      [
        fixture('range-total.mjs'),
        'n=5',
        '--key',
        'tls',
        '--state-dir',
        box.stateDir,
        '--host',
        '0.0.0.0:0',
        '--tls-cert',
        cert,
        '--tls-key',
        key,
        '--quiet',
      ],
      { env: box.env },
    )
    await tls.master.waitFor(
      `Status page: https://${hostname()}:${tls.host.split(':').pop()}/ (add ?token=<the run's token>: the link holds the token only on a terminal, never in a log)\n`,
      'stdout',
    )
    expect(tls.master.stdout).not.toContain('a+b&c')
    tls.master.kill('SIGTERM')
    expect((await tls.master.exited).code).toBe(143)

    const open = await startMaster([fixture('range-total.mjs'), 'n=5', ...masterArgs(sandbox(), 'open'), '--quiet'])
    await open.master.waitFor(`Status page: http://${open.host}/\n`, 'stdout')
    open.master.kill('SIGTERM')
    expect((await open.master.exited).code).toBe(143)
  })
})
