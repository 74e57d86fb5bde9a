import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT, cleanUp, fixture, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { until } from '../helpers/reliability.js'

// docs/grafana-dashboard.json, for users who scrape GET /metrics with Prometheus: every
// metric its queries name must be one a real master serves, with a series.

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-prometheus'

interface Target {
  expr: string
  datasource: { type: string; uid: string }
}
interface Panel {
  id: number
  type: string
  title: string
  targets?: Target[]
  datasource?: { type: string; uid: string }
}
interface Dashboard {
  uid: string
  panels: Panel[]
  templating: { list: { name: string; type: string; query: string | { query: string } }[] }
}

const dashboard = JSON.parse(readFileSync(join(ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as Dashboard

/** Every query of the dashboard: its panels' targets and its variables'. */
function queries(): string[] {
  const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr))
  for (const variable of dashboard.templating.list)
    if (variable.type === 'query') exprs.push(typeof variable.query === 'string' ? variable.query : variable.query.query)
  return exprs
}

/** The metric names a query names. */
const metricsOf = (expr: string): string[] => expr.match(/\btaskmaster_[a-z0-9_]+/g) ?? []

describe('the Grafana dashboard (docs/grafana-dashboard.json)', () => {
  it("queries the Prometheus datasource the user picks, for the runs they pick; each panel's queries name Taskmaster's metrics", () => {
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['key', 'query'],
    ])
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row')
    expect(panels.length).toBeGreaterThanOrEqual(10)
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length)
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' })
      expect(panel.targets!.length, panel.title).toBeGreaterThan(0)
      for (const target of panel.targets!) {
        expect(target.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' })
        expect(metricsOf(target.expr).length, target.expr).toBeGreaterThan(0)
        expect(target.expr, target.expr).toContain('key=~"$key"')
      }
    }
    // The master's own figures beside the slaves'.
    const named = new Set(queries().flatMap(metricsOf))
    for (const name of ['taskmaster_master_cpu_percent', 'taskmaster_master_resident_memory_bytes', 'taskmaster_slave_cpu_percent'])
      expect(named).toContain(name)
  })

  it("names only metrics a real master's GET /metrics serves, each with a series", async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_RECORD_DELAY_MS: '5' })
    // A total, limits and a slave at work: every series the dashboard reads exists (the ETA's once the rate is up).
    const { master, host } = await startMaster(
      [fixture('range-total.mjs'), 'n=1000000', ...masterArgs(box, 'grafana'), '--rate', '100000', '--max-in-flight', '5000', '--quiet'],
      { env: box.env },
    )
    const slave = startSlave([fixture('record.mjs'), '--host', host, '--concurrency', '4', '--reconnect', '0'], { env: box.env })
    const wanted = [...new Set(queries().flatMap(metricsOf))].sort()
    let missing: string[] = wanted
    const text = await until(
      () => `every metric of the dashboard in /metrics; missing: ${missing.join(', ')}`,
      async () => {
        const answer = await fetch(`http://${host}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
        const body = await answer.text()
        const sampled = new Set(body.split('\n').map((line) => /^(taskmaster_[a-z0-9_]+)[{ ]/.exec(line)?.[1]))
        missing = wanted.filter((name) => !sampled.has(name))
        return missing.length === 0 ? body : undefined
      },
      60_000,
      200,
    )
    for (const name of wanted) expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'))
    master.kill('SIGINT')
    await master.exited
    slave.kill('SIGINT')
  })
})
