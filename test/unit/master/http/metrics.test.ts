import { describe, expect, it } from 'vitest'
import { RunMetrics } from '../../../../src/master/http/metrics.js'
import type { RunStatus, SlaveFigures } from '../../../../src/master/engine/status.js'
import { startingStatus } from '../../../../src/master/engine/status.js'

const slave: SlaveFigures = {
  id: 3,
  address: '10.0.0.7:5123',
  hostname: 'w1',
  pid: 42,
  concurrency: 8,
  connectedAt: '2026-01-02T03:04:05.006Z',
  done: 7,
  failed: 1,
  rate: 2.5,
  inFlight: 3,
  cpuPercent: 150,
  rss: 1024,
  netIn: 10,
  netOut: 20,
}

/** The sample lines of a scrape (no HELP/TYPE). */
const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '' && !line.startsWith('#'))

describe('RunMetrics', () => {
  it('reads the document of the moment of each scrape; a slave that left has no series, a figure that is null none', async () => {
    let doc: RunStatus = { ...startingStatus('k', {}, 'running', Date.UTC(2026, 0, 2)), slaves: [slave] }
    const metrics = new RunMetrics(() => doc)
    const first = lines(await metrics.text())
    expect(first).toContain('taskmaster_slave_jobs_in_flight{key="k",slave="3",address="10.0.0.7:5123",hostname="w1"} 3')
    expect(first).toContain('taskmaster_slave_network_transmit_bytes_total{key="k",slave="3",address="10.0.0.7:5123",hostname="w1"} 20')
    expect(first).toContain('taskmaster_run_info{key="k",state="running"} 1')
    expect(first).toContain('taskmaster_status_time_seconds{key="k"} 1767312000')
    // No total: no expected jobs, no ratio, no ETA.
    expect(first.filter((line) => /^taskmaster_(jobs_expected|progress_ratio|eta_seconds)\{/.test(line))).toEqual([])

    doc = { ...startingStatus('k', {}, 'complete', Date.UTC(2026, 0, 2, 0, 0, 1)), slaves: [] }
    const second = lines(await metrics.text())
    expect(second.filter((line) => line.startsWith('taskmaster_slave_'))).toEqual([])
    expect(second).toContain('taskmaster_run_info{key="k",state="complete"} 1')
    expect(second.filter((line) => line.startsWith('taskmaster_run_info'))).toHaveLength(1)
    expect(second).toContain('taskmaster_slaves{key="k"} 0')
  })

  it('shows the controls: paused and throttled as 0 or 1 (no reason label: its text is unbounded), a limit only while set', async () => {
    const base = startingStatus('k', {}, 'running', Date.UTC(2026, 0, 2))
    let doc: RunStatus = base
    const metrics = new RunMetrics(() => doc)
    const controls = (text: string): string[] =>
      lines(text).filter((line) => /^taskmaster_(paused|throttled|rate_limit|max_in_flight)/.test(line))
    expect(controls(await metrics.text())).toEqual(['taskmaster_paused{key="k"} 0', 'taskmaster_throttled{key="k"} 0'])
    doc = {
      ...base,
      run: { ...base.run, controls: { paused: true, rate: 0.5, maxInFlight: 12, throttled: 'replica lag 3.2 s', throttle: 'lag.mjs' } },
    }
    expect(controls(await metrics.text())).toEqual([
      'taskmaster_paused{key="k"} 1',
      'taskmaster_throttled{key="k"} 1',
      'taskmaster_rate_limit_jobs_per_second{key="k"} 0.5',
      'taskmaster_max_in_flight_limit{key="k"} 12',
    ])
    expect(await metrics.text()).not.toContain('replica lag')
  })

  it("gives the master's own CPU, memory and port bytes beside the slaves', labelled with the run's key", async () => {
    const base = startingStatus('k', {}, 'running', Date.UTC(2026, 0, 2))
    const doc: RunStatus = { ...base, master: { hostname: 'db-1', pid: 7, cpuPercent: 12.5, rss: 2048, netIn: 300, netOut: 4000 } }
    const text = await new RunMetrics(() => doc).text()
    expect(lines(text).filter((line) => line.startsWith('taskmaster_master_'))).toEqual([
      'taskmaster_master_cpu_percent{key="k"} 12.5',
      'taskmaster_master_resident_memory_bytes{key="k"} 2048',
      'taskmaster_master_network_receive_bytes_total{key="k"} 300',
      'taskmaster_master_network_transmit_bytes_total{key="k"} 4000',
    ])
    expect(text).toContain('# TYPE taskmaster_master_network_receive_bytes_total counter')
    expect(text).toContain('# TYPE taskmaster_master_cpu_percent gauge')
  })

  it('keeps a registry of its own: two runs in one process do not mix', async () => {
    const a = new RunMetrics(() => startingStatus('a', {}, 'running'))
    const b = new RunMetrics(() => startingStatus('b', {}, 'running'))
    expect(await a.text()).not.toContain('key="b"')
    expect(await b.text()).not.toContain('key="a"')
  })
})
