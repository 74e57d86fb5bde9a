import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, cleanUp, fixture, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { statusReader } from '../helpers/poll.js'
import { until } from '../helpers/reliability.js'

// GET /metrics on the master's port during a live run, with the real bins: every metric's
// name and value against GET /status of the same moment, and the token guarding it.

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-metrics'
const { status, statusWhere } = statusReader(TOKEN)

/** `name{labels}` -> value of every sample in a Prometheus text exposition. */
function samples(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out[line.slice(0, at)] = Number(line.slice(at + 1))
  }
  return out
}

describe('GET /metrics', () => {
  it('gives the figures of /status in the Prometheus text format, to holders of the token only', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '100' })
    const { master, host } = await startMaster(
      [fixture('range-total.mjs'), 'n=300', 'table=posts', ...masterArgs(box, 'metered'), '--quiet'],
      { env: box.env },
    )
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2', '--prefetch', '2'], { env: box.env })
    const auth = { authorization: `Bearer ${TOKEN}` }
    // Jobs 0-99 done, 2 running and 2 prefetched held, and the slave's stats report in.
    await statusWhere(
      host,
      'the run to stand at 100 done',
      (doc) => doc.run.done === 100 && doc.run.inFlight === 4 && doc.slaves[0]?.rss !== 0 && doc.slaves[0]?.netIn !== 0,
    )
    // A scrape and a status document of the same moment: both scrapes carry the time of that document.
    const { response, text, doc } = await until(
      'a scrape and /status of one document',
      async () => {
        const before = await fetch(`http://${host}/metrics`, { headers: auth })
        const doc = await status(host)
        const after = await fetch(`http://${host}/metrics`, { headers: auth })
        const text = await after.text()
        const time = `taskmaster_status_time_seconds{key="metered"}`
        const same =
          samples(await before.text())[time] === Date.parse(doc.time) / 1000 && samples(text)[time] === Date.parse(doc.time) / 1000
        return same ? { response: after, text, doc } : undefined
      },
      60_000,
      100,
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const r = doc.run
    const s = doc.slaves[0]
    expect(s.hostname).toBe(hostname())
    const slave1 = `key="metered",slave="1",address="${s.address}",hostname="${s.hostname}"`
    expect(samples(text)).toEqual({
      'taskmaster_run_info{key="metered",state="running"}': 1,
      'taskmaster_status_time_seconds{key="metered"}': Date.parse(doc.time) / 1000,
      'taskmaster_slaves{key="metered"}': 1,
      'taskmaster_jobs_done_total{key="metered"}': 100,
      'taskmaster_jobs_failed_total{key="metered"}': 0,
      'taskmaster_jobs_skipped_total{key="metered"}': 0,
      'taskmaster_session_jobs_done_total{key="metered"}': 100,
      'taskmaster_session_jobs_failed_total{key="metered"}': 0,
      'taskmaster_jobs_in_flight{key="metered"}': 4,
      'taskmaster_jobs_queued{key="metered"}': 196,
      'taskmaster_jobs_waiting{key="metered"}': 0,
      'taskmaster_jobs_expected{key="metered"}': 300,
      'taskmaster_jobs_expected_estimated{key="metered"}': 0,
      'taskmaster_position{key="metered"}': 100,
      'taskmaster_progress_ratio{key="metered"}': (r.percent ?? NaN) / 100,
      'taskmaster_rate_jobs_per_second{key="metered"}': r.rate,
      ...(r.etaMs === null ? {} : { 'taskmaster_eta_seconds{key="metered"}': r.etaMs / 1000 }),
      'taskmaster_elapsed_seconds{key="metered"}': r.elapsedMs / 1000,
      'taskmaster_session_elapsed_seconds{key="metered"}': r.session.elapsedMs / 1000,
      'taskmaster_paused{key="metered"}': 0,
      'taskmaster_throttled{key="metered"}': 0,
      'taskmaster_master_cpu_percent{key="metered"}': doc.master.cpuPercent,
      'taskmaster_master_resident_memory_bytes{key="metered"}': doc.master.rss,
      'taskmaster_master_network_receive_bytes_total{key="metered"}': doc.master.netIn,
      'taskmaster_master_network_transmit_bytes_total{key="metered"}': doc.master.netOut,
      [`taskmaster_slave_jobs_done_total{${slave1}}`]: 100,
      [`taskmaster_slave_attempts_failed_total{${slave1}}`]: 0,
      [`taskmaster_slave_jobs_in_flight{${slave1}}`]: 4,
      [`taskmaster_slave_concurrency{${slave1}}`]: 2,
      [`taskmaster_slave_rate_jobs_per_second{${slave1}}`]: s.rate,
      [`taskmaster_slave_cpu_percent{${slave1}}`]: s.cpuPercent,
      [`taskmaster_slave_resident_memory_bytes{${slave1}}`]: s.rss,
      [`taskmaster_slave_network_receive_bytes_total{${slave1}}`]: s.netIn,
      [`taskmaster_slave_network_transmit_bytes_total{${slave1}}`]: s.netOut,
    })
    expect(text).toContain('# TYPE taskmaster_jobs_done_total counter\n')
    expect(text).toContain('# TYPE taskmaster_jobs_in_flight gauge\n')
    expect(text).toContain('# TYPE taskmaster_master_network_receive_bytes_total counter\n')
    expect(doc.master.rss).toBeGreaterThan(0)
    expect(doc.master.netIn).toBeGreaterThan(0)
    expect(text).toContain('# HELP taskmaster_jobs_done_total Jobs done over the whole run (every master of it).\n')

    // The controls: a limit that is off has no series; once set, its value, as in /status.
    for (const [path, value] of [
      ['/pause', undefined],
      ['/rate', 250.5],
      ['/max-in-flight', 7],
    ] as const) {
      const res = await fetch(`http://${host}${path}`, {
        method: 'POST',
        headers: auth,
        body: value === undefined ? '' : JSON.stringify({ value }),
      })
      expect(res.status).toBe(200)
    }
    const controlled = await statusWhere(host, 'a status document with the controls set', (doc) => doc.run.controls.maxInFlight === 7)
    expect(controlled.run.controls).toEqual({ paused: true, rate: 250.5, maxInFlight: 7, throttled: null, throttle: null })
    const scraped = samples(await (await fetch(`http://${host}/metrics`, { headers: auth })).text())
    expect(
      Object.fromEntries(Object.entries(scraped).filter(([name]) => /^taskmaster_(paused|throttled|rate_limit|max_in_flight)/.test(name))),
    ).toEqual({
      'taskmaster_paused{key="metered"}': 1,
      'taskmaster_throttled{key="metered"}': 0,
      'taskmaster_rate_limit_jobs_per_second{key="metered"}': 250.5,
      'taskmaster_max_in_flight_limit{key="metered"}': 7,
    })
    for (const path of ['/rate', '/max-in-flight'])
      expect((await fetch(`http://${host}${path}`, { method: 'POST', headers: auth, body: '{"value": null}' })).status).toBe(200)
    expect((await fetch(`http://${host}/resume`, { method: 'POST', headers: auth })).status).toBe(200)

    // ?token= works too; nothing without the token or with a wrong one.
    expect((await fetch(`http://${host}/metrics?token=${TOKEN}`)).status).toBe(200)
    const refused = await fetch(`http://${host}/metrics`)
    expect(refused.status).toBe(401)
    expect(await refused.text()).toBe("This run's figures need its token: send Authorization: Bearer <token> or add ?token=<token>\n")
    expect((await fetch(`http://${host}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)

    writeFileSync(join(box.records, 'go'), '')
    expect(await master.exited).toEqual(EXIT_OK)
    expect(await slave.exited).toEqual(EXIT_OK)
    expect(master.stdout + master.stderr).not.toContain(TOKEN)
  })
})
