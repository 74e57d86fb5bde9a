import { writeFileSync } from 'node:fs'
import { Agent, get as httpGet } from 'node:http'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunStatus } from '../../src/index.js'
import { EXIT_OK, cleanUp, fixture, masterArgs, recordedKeys, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { until } from '../helpers/reliability.js'
import { HELLO_TIMEOUT_S } from '../../src/protocol/constants.js'
import { anyNumber, matching } from '../helpers/matchers.js'

// GET /status on the master's port during a live run, with the real bins: the document's
// figures against what the run really did, and the token guarding it like the slaves' endpoint.

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-status'

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(url, { headers })
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() }
}

describe('GET /status', () => {
  it('serves the status document of the live run to holders of the token, and 401 to others', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '100' })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=300', ...masterArgs(box, 'endpoint'), '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2', '--prefetch', '2'], { env: box.env })
    const url = `http://${host}/status`
    const auth = { authorization: `Bearer ${TOKEN}` }
    // Jobs 0-99 done, 2 running and 2 prefetched held, and the slave's stats report in.
    const status = await until(
      'the run to stand at 100 done',
      async () => {
        const answer = await get(url, auth)
        const doc = JSON.parse(answer.body) as RunStatus
        return doc.run.done === 100 && doc.run.inFlight === 4 && doc.slaves[0]?.rss !== 0 && doc.slaves[0]?.netIn !== 0
          ? { answer, doc }
          : undefined
      },
      60_000,
      100,
    )
    expect(status.answer.status).toBe(200)
    expect(status.answer.type).toBe('application/json; charset=utf-8')
    const doc = status.doc
    expect(recordedKeys(box.records)).toHaveLength(100)
    expect(Object.keys(doc)).toEqual(['time', 'run', 'master', 'slaves', 'failures'])
    // The master's own process beside the slave's: its memory, CPU, and the bytes through its port (the slave's frames, these requests).
    expect(doc.master).toEqual({
      hostname: hostname(),
      pid: master.child.pid,
      cpuPercent: anyNumber,
      rss: anyNumber,
      netIn: anyNumber,
      netOut: anyNumber,
    })
    expect(doc.master.rss).toBeGreaterThan(10 * 1024 * 1024)
    expect(doc.master.cpuPercent).toBeGreaterThanOrEqual(0)
    // More than the slave alone sent and received on its connection (its last report is a little older).
    expect(doc.master.netIn).toBeGreaterThan(doc.slaves[0].netOut)
    expect(doc.master.netOut).toBeGreaterThan(doc.slaves[0].netIn)
    expect(doc.run).toEqual({
      key: 'endpoint',
      args: { n: '300' },
      state: 'running',
      resumed: false,
      resumedAt: 0,
      position: 100,
      last: 99,
      done: 100,
      failed: 0,
      inFlight: 4,
      queued: 196,
      waiting: 0,
      skipped: 0,
      total: 300,
      totalEstimated: false,
      percent: (100 * 100) / 300,
      rate: anyNumber,
      // Whole seconds, rounded up: never 0 before the end.
      etaMs: doc.run.rate > 0 ? Math.ceil(200 / doc.run.rate) * 1000 : null,
      elapsedMs: doc.run.session.elapsedMs,
      startedAt: matching(/^\d{4}-\d\d-\d\dT/),
      session: { done: 100, failed: 0, elapsedMs: anyNumber, startedAt: matching(/^\d{4}-\d\d-\d\dT/) },
      controls: { paused: false, rate: null, maxInFlight: null, throttled: null, throttle: null },
    })
    expect(doc.slaves).toEqual([
      {
        id: 1,
        address: matching(/^127\.0\.0\.1:\d+$/),
        hostname: hostname(),
        pid: slave.child.pid,
        concurrency: 2,
        connectedAt: matching(/^\d{4}-\d\d-\d\dT/),
        done: 100,
        failed: 0,
        rate: anyNumber,
        inFlight: 4,
        cpuPercent: anyNumber,
        rss: anyNumber,
        netIn: anyNumber,
        netOut: anyNumber,
      },
    ])
    expect(doc.slaves[0].netOut).toBeGreaterThan(0)

    // The same document by ?token=; none without the token or with a wrong one.
    expect((await get(`${url}?token=${TOKEN}`)).status).toBe(200)
    const refused = await get(url)
    expect(refused).toEqual({
      status: 401,
      type: 'text/plain; charset=utf-8',
      body: "This run's figures need its token: send Authorization: Bearer <token> or add ?token=<token>\n",
    })
    expect((await get(`${url}?token=wrong`)).status).toBe(401)
    expect((await get(url, { authorization: 'Bearer wrong' })).status).toBe(401)
    expect((await fetch(url, { method: 'POST', headers: auth })).status).toBe(405)
    await master.waitFor(/^Refused GET \/status from 127\.0\.0\.1: no valid token$/m)
    // Anything else on the port is still refused as before, and is no route to the figures.
    expect((await get(`http://${host}/other?token=${TOKEN}`, auth)).status).toBe(426)

    writeFileSync(join(box.records, 'go'), '')
    expect(await master.exited).toEqual(EXIT_OK)
    expect(await slave.exited).toEqual(EXIT_OK)
    expect(master.stdout + master.stderr).not.toContain(TOKEN)
    expect(master.stderr).toMatch(/^Refused a plain HTTP request \(GET \/other\) from 127\.0\.0\.1$/m)
  })

  it('needs no token from a master without one (loopback, no --token)', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=5', ...masterArgs(box, 'open'), '--quiet'], { env: box.env })
    const answer = await get(`http://${host}/status`)
    expect(answer.status).toBe(200)
    expect(JSON.parse(answer.body)).toMatchObject({
      run: { key: 'open', args: { n: '5' }, state: 'running', total: 5, done: 0 },
      slaves: [],
    })
    master.kill('SIGTERM')
    expect((await master.exited).code).toBe(143)
  })

  it('keeps a keep-alive connection that asks for it again and again past the deadline of connections that never say hello', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=5', ...masterArgs(box, 'polled'), '--quiet'], {
      env: box.env,
    })
    // One connection, kept alive, asking one request after the other (a poller, a Prometheus scrape).
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const ports = new Set<number>()
    const poll = (): Promise<number> =>
      new Promise((resolve, reject) => {
        httpGet(`http://${host}/status`, { agent }, (res) => {
          ports.add(res.socket.localPort!)
          res.resume().on('end', () => resolve(res.statusCode!))
        }).on('error', reject)
      })
    const end = Date.now() + (HELLO_TIMEOUT_S + 7) * 1000
    let polls = 0
    while (Date.now() < end) {
      expect(await poll()).toBe(200)
      polls++
    }
    agent.destroy()
    // It was never cut (a request on a cut connection fails, or goes on a new one).
    expect(ports.size, `${polls} polls`).toBe(1)
    master.kill('SIGTERM')
    expect((await master.exited).code).toBe(143)
  })
})
