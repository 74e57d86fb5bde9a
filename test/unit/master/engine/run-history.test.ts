import { describe, expect, it } from 'vitest'
import type { HistoryShape } from '../../../../src/master/engine/run-history.js'
import {
  HISTORY_NAME_MAX,
  HISTORY_OLDER,
  HISTORY_RECENT,
  HISTORY_SLAVES,
  HISTORY_VERSION,
  RunHistory,
  SLAVE_SERIES,
} from '../../../../src/master/engine/run-history.js'
import type { RunStatus, SlaveFigures } from '../../../../src/master/engine/status.js'
import { startingStatus } from '../../../../src/master/engine/status.js'

const T0 = Date.parse('2026-01-02T03:04:05.000Z')

/** A slave of connection `id` at second `s`: its figures grow with the second. */
function slave(id: number, s: number, hostname = `worker-${id}`): SlaveFigures {
  return {
    id,
    address: `10.0.0.${id % 250}:5000`,
    hostname,
    pid: 1000 + id,
    concurrency: 4,
    connectedAt: new Date(T0).toISOString(),
    done: 0,
    failed: 0,
    rate: 0,
    inFlight: 0,
    cpuPercent: id,
    rss: 1_000_000 * id,
    netIn: 100 * s,
    netOut: 1000 * s,
  }
}

/** The status document of second `s`: done grows by 10 a second, rate, in flight and queued are the second's; the master's figures grow too. */
function doc(s: number, slaves: SlaveFigures[] = []): RunStatus {
  const base = startingStatus('k', {}, 'running', T0 + s * 1000)
  return {
    ...base,
    run: { ...base.run, done: s * 10, failed: s, rate: s, inFlight: s % 4, queued: s % 3 },
    master: { hostname: 'db-1', pid: 42, cpuPercent: s % 100, rss: 50_000_000 + s, netIn: 7 * s, netOut: 70 * s },
    slaves,
  }
}

describe('RunHistory', () => {
  it("starts empty, version 2, with this master's start", () => {
    const history = new RunHistory(T0)
    expect(history.document()).toEqual({
      version: HISTORY_VERSION,
      startedAt: '2026-01-02T03:04:05.000Z',
      run: [],
      master: [],
      slaves: [],
      omitted: 0,
    })
    expect(HISTORY_VERSION).toBe(2)
  })

  it("keeps the run's and the master's figures a point a second, on the same times", () => {
    const history = new RunHistory(T0)
    for (let s = 0; s < 3; s++) history.record(doc(s))
    const { run, master } = history.document()
    expect(run).toEqual([
      { time: '2026-01-02T03:04:05.000Z', samples: 1, done: 0, failed: 0, rate: 0, inFlight: 0, queued: 0 },
      { time: '2026-01-02T03:04:06.000Z', samples: 1, done: 10, failed: 1, rate: 1, inFlight: 1, queued: 1 },
      { time: '2026-01-02T03:04:07.000Z', samples: 1, done: 20, failed: 2, rate: 2, inFlight: 2, queued: 2 },
    ])
    expect(master).toEqual([
      { time: '2026-01-02T03:04:05.000Z', samples: 1, cpuPercent: 0, rss: 50_000_000, netIn: 0, netOut: 0 },
      { time: '2026-01-02T03:04:06.000Z', samples: 1, cpuPercent: 1, rss: 50_000_001, netIn: 7, netOut: 70 },
      { time: '2026-01-02T03:04:07.000Z', samples: 1, cpuPercent: 2, rss: 50_000_002, netIn: 14, netOut: 140 },
    ])
  })

  it('makes its document when asked: what was recorded up to then', () => {
    const history = new RunHistory(T0)
    history.record(doc(0))
    const first = history.document()
    expect(history.document()).toEqual(first)
    history.record(doc(1))
    expect(history.document().run).toHaveLength(2)
    expect(first.run).toHaveLength(1)
  })

  it("keeps each slave's CPU, memory and bytes in points of five samples, by name; a slave that left says when, and stays", () => {
    const history = new RunHistory(T0)
    for (let s = 0; s < 12; s++) history.record(doc(s, s < 7 ? [slave(1, s), slave(2, s)] : [slave(2, s)]))
    const { slaves, omitted } = history.document()
    expect(omitted).toBe(0)
    expect(slaves.map((s) => [s.id, s.name, s.address, s.leftAt])).toEqual([
      [1, 'worker-1:1001', '10.0.0.1:5000', new Date(T0 + 7000).toISOString()],
      [2, 'worker-2:1002', '10.0.0.2:5000', null],
    ])
    // Seconds 0-4 as one point, 5-6 the next (the means of CPU and memory, the last byte counts).
    expect(slaves[0].points).toEqual([
      { time: new Date(T0 + 4000).toISOString(), samples: 5, cpuPercent: 1, rss: 1_000_000, netIn: 400, netOut: 4000 },
      { time: new Date(T0 + 6000).toISOString(), samples: 2, cpuPercent: 1, rss: 1_000_000, netIn: 600, netOut: 6000 },
    ])
    expect(slaves[1].points.map((p) => p.samples)).toEqual([5, 5, 2])
    expect(slaves[1].points.at(-1)).toMatchObject({ time: new Date(T0 + 11_000).toISOString(), netIn: 1100, netOut: 11_000 })
  })

  it("cuts a slave's name past 200 characters, in a string of its own", () => {
    const history = new RunHistory(T0)
    const long = '<script>alert(1)</script>'.repeat(40_000)
    history.record(doc(0, [slave(1, 0, long)]))
    const [kept] = history.document().slaves
    expect(kept.name).toHaveLength(HISTORY_NAME_MAX)
    expect(kept.name.endsWith('…')).toBe(true)
    expect(long.startsWith(kept.name.slice(0, -1))).toBe(true)
  })

  it('keeps at most its number of slaves: the one that left first gives its room; beyond, connected slaves are omitted and counted', () => {
    const shape: HistoryShape = { run: { recent: 4, older: 4 }, slave: { recent: 2, older: 2, base: 1 }, slaves: 3 }
    const history = new RunHistory(T0, shape)
    history.record(doc(0, [slave(1, 0), slave(2, 0), slave(3, 0)]))
    // 2 leaves, then 1: the room goes to 4, then 5, in the order they left.
    history.record(doc(1, [slave(1, 1), slave(3, 1)]))
    history.record(doc(2, [slave(3, 2)]))
    history.record(doc(3, [slave(3, 3), slave(4, 3)]))
    expect(history.document().slaves.map((s) => [s.id, s.leftAt !== null])).toEqual([
      [1, true],
      [3, false],
      [4, false],
    ])
    history.record(doc(4, [slave(3, 4), slave(4, 4), slave(5, 4), slave(6, 4)]))
    const { slaves, omitted } = history.document()
    expect(slaves.map((s) => s.id)).toEqual([3, 4, 5])
    // 6 found no room: no slave had left.
    expect(omitted).toBe(1)
    // Once one leaves, 6 takes its room, from then on.
    history.record(doc(5, [slave(4, 5), slave(5, 5), slave(6, 5)]))
    const later = history.document()
    expect(later.slaves.map((s) => s.id)).toEqual([4, 5, 6])
    expect(later.slaves[2].points.map((p) => p.time)).toEqual([new Date(T0 + 5000).toISOString()])
    expect(later.omitted).toBe(0)
  })

  it('a week with slaves joining and leaving stays within its bound, and keeps the shape of the whole run from its first sample', () => {
    const history = new RunHistory(T0)
    const week = 7 * 24 * 3600
    const bound = history.maxBytes
    // The bound in docs/monitoring.md: the run's and the master's series, and 100 slaves of about 15 KiB.
    expect(bound).toBe(
      (HISTORY_RECENT + HISTORY_OLDER + 1) * 11 * 8 + HISTORY_SLAVES * ((SLAVE_SERIES.recent + SLAVE_SERIES.older + 1) * 6 * 8 + 1024),
    )
    expect(bound).toBeLessThan(1.8 * 1024 * 1024)
    // 12 slaves at once, each staying between 10 minutes and an hour; over 3,000 over the week. One
    // document, its figures changed a second at a time (a week of fresh objects would be slow).
    const status = doc(0)
    let next = 1
    const connected: { figures: SlaveFigures; until: number }[] = []
    const departures: number[] = []
    let most = 0
    for (let s = 0; s < week; s++) {
      for (; connected.length < 12; next++) connected.push({ figures: slave(next, s), until: s + 600 + ((next * 7919) % 3000) })
      status.time = new Date(T0 + s * 1000).toISOString()
      Object.assign(status.run, { done: s * 10, failed: s, rate: s % 50, inFlight: s % 4, queued: s % 3 })
      Object.assign(status.master, { cpuPercent: s % 100, netIn: 7 * s, netOut: 70 * s })
      for (const c of connected) {
        c.figures.netIn = 100 * s
        c.figures.netOut = 1000 * s
      }
      status.slaves = connected.map((c) => c.figures)
      history.record(status)
      for (let i = connected.length - 1; i >= 0; i--)
        if (connected[i].until <= s) {
          connected.splice(i, 1)
          departures.push(T0 + (s + 1) * 1000)
        }
      if (s % 3600 === 0) most = Math.max(most, history.bytes)
    }
    expect(next).toBeGreaterThan(3000)
    most = Math.max(most, history.bytes)
    expect(most).toBeLessThanOrEqual(bound)
    expect(history.slaveCount).toBe(HISTORY_SLAVES)
    const { run, master, slaves, omitted } = history.document()
    expect(omitted).toBe(0)
    // The run's first sample is still in its first point, the last ten minutes a second apart.
    expect(run.reduce((sum, p) => sum + p.samples, 0)).toBe(week)
    expect(Date.parse(run[0].time) - T0).toBeLessThan(history.width * 1000)
    expect(run[0].done).toBeLessThan(history.width * 10)
    expect(run.at(-1)!.time).toBe(new Date(T0 + (week - 1) * 1000).toISOString())
    expect(run.length).toBeLessThanOrEqual(HISTORY_RECENT + HISTORY_OLDER)
    expect(master.map((p) => p.time)).toEqual(run.map((p) => p.time))
    // The slaves kept: the 12 connected, and 88 of those that left, the latest to leave.
    expect(slaves.filter((s) => s.leftAt === null)).toHaveLength(12)
    const left = slaves.filter((s) => s.leftAt !== null).map((s) => Date.parse(s.leftAt!))
    expect(left).toHaveLength(88)
    expect(Math.min(...left)).toBeGreaterThanOrEqual(departures.sort((a, b) => a - b).at(-88)!)
    for (const s of slaves) expect(s.points.length).toBeLessThanOrEqual(SLAVE_SERIES.recent + SLAVE_SERIES.older + 1)
  }, 120_000)

  it('hundreds of slaves at once: 100 kept, the others counted as omitted, the bound holds', () => {
    const history = new RunHistory(T0)
    const many = Array.from({ length: 300 }, (_, i) => slave(i + 1, 0))
    for (let s = 0; s < 600; s++) history.record(doc(s, many))
    const { slaves, omitted } = history.document()
    expect(slaves.map((s) => s.id)).toEqual(many.slice(0, 100).map((s) => s.id))
    expect(omitted).toBe(200)
    expect(history.bytes).toBeLessThanOrEqual(history.maxBytes)
    // All leave, 300 others come: the 100 rooms go to the first 100 of them.
    const others = Array.from({ length: 300 }, (_, i) => slave(i + 301, 600))
    history.record(doc(600, []))
    history.record(doc(601, others))
    expect(history.document().slaves.map((s) => s.id)).toEqual(others.slice(0, 100).map((s) => s.id))
    expect(history.document().omitted).toBe(200)
    expect(history.bytes).toBeLessThanOrEqual(history.maxBytes)
  })
})
