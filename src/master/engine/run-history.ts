import type { RunStatus } from './status.js'
import type { SeriesShape } from './tiered-series.js'
import { TieredSeries } from './tiered-series.js'

/** One-second points of the run and the master kept as they are: the last ten minutes. */
export const HISTORY_RECENT = 600

/** Older points of the run and the master kept merged into buckets: when there are this many, pairs merge and the buckets' width doubles. */
export const HISTORY_OLDER = 1200

/** Slaves the history keeps at once: the connected ones, then those that left most recently. */
export const HISTORY_SLAVES = 100

/** A slave's series: a point the mean of five one-second samples, the last five minutes as they are, older ones merged into 240 buckets. */
export const SLAVE_SERIES: Required<SeriesShape> = { recent: 60, older: 240, base: 5 }

/** Longest slave name kept (a host name is the slave's to choose): beyond, it is cut and ends with `…`. */
export const HISTORY_NAME_MAX = 200

/** Longest slave address kept (an `ip:port` is shorter). */
const ADDRESS_MAX = 64

/**
 * Bytes a slave's entry holds at most beside its series: the entry and its map slot (about
 * 200), its name, address and connection time (at most 200 + 64 + 24 characters, at two
 * bytes a character). What {@link RunHistory.bytes} counts, and docs/monitoring.md gives.
 */
const SLAVE_ENTRY_BYTES = 1024

/** The version of {@link HistoryDocument}: 1 was `{ run }` alone (no `version`). */
export const HISTORY_VERSION = 2

/** One point of a run's history, in `GET /history`. */
export interface HistoryPoint {
  /** When the point's last sample was taken (ISO 8601). */
  time: string
  /** Samples (one a status period, about a second) the point stands for: 1 in the last ten minutes, more before. */
  samples: number
  /** Jobs done over the whole run at `time`. */
  done: number
  /** Jobs written to the failed-jobs log over the whole run at `time`. */
  failed: number
  /** The moving rate (jobs/s), the mean of the point's samples. */
  rate: number
  /** Jobs in flight, the mean of the point's samples. */
  inFlight: number
  /** Jobs in the buffer, the mean of the point's samples. */
  queued: number
}

/** A point of a process's resources (the master's, a slave's) in `GET /history`. */
export interface ResourcePoint {
  /** When the point's last sample was taken (ISO 8601). */
  time: string
  /** Samples (one a status period) the point stands for. */
  samples: number
  /** CPU in percent of one core, the mean of the point's samples. */
  cpuPercent: number
  /** Resident memory in bytes, the mean of the point's samples. */
  rss: number
  /** Bytes received at `time`, a counter: the rate between two points is their difference over their times. */
  netIn: number
  /** Bytes sent at `time`, a counter. */
  netOut: number
}

/** A slave's part of the history: one connection's figures, from its first sample to its last. */
export interface SlaveHistory {
  /** The master's number for the connection (`slaves[].id` of the status document). */
  id: number
  /** `hostname:pid`, as the slave named itself (cut at 200 characters). */
  name: string
  /** The slave's `ip:port` as the master saw it. */
  address: string
  /** When the slave connected (ISO 8601). */
  connectedAt: string
  /** When the history first missed it (ISO 8601); null while it is connected. */
  leftAt: string | null
  /** Its figures, oldest first. */
  points: ResourcePoint[]
}

/**
 * The answer of `GET /history`: the figures of the run, of the master and of each slave since
 * this master started, oldest first. Version 2; version 1 had `run` alone, whose points are
 * unchanged but for `queued`, added.
 */
export interface HistoryDocument {
  /** The shape of this document: 2. */
  version: number
  /** When this master started (ISO 8601): the history is this master's; a resumed run's begins again with its master. */
  startedAt: string
  /** The run's figures, a point a second for the last ten minutes, older ones merged. */
  run: HistoryPoint[]
  /** The master's own CPU, memory and port traffic, on the run's points' times. */
  master: ResourcePoint[]
  /** Each slave kept (at most 100: the connected ones, then those that left most recently), in the order they connected. */
  slaves: SlaveHistory[]
  /** Slaves connected at the last sample that the history keeps no figures of (more than 100 at once). */
  omitted: number
}

/** A slave's entry: who it is, and its series. */
interface SlaveEntry {
  id: number
  name: string
  address: string
  connectedAt: string
  /** When it was last missed (ms); undefined while connected. */
  leftAt: number | undefined
  /** The sample that last saw it. */
  seen: number
  series: TieredSeries
}

/** The run's and the master's columns: the run's counts are counters, the rest gauges, the port's bytes counters. */
const RUN_MERGES = ['last', 'last', 'mean', 'mean', 'mean', 'mean', 'mean', 'last', 'last'] as const
/** A slave's columns: CPU and memory are gauges, the bytes counters. */
const SLAVE_MERGES = ['mean', 'mean', 'last', 'last'] as const

/** The shapes of a history (tests make small ones). */
export interface HistoryShape {
  run: SeriesShape
  slave: SeriesShape
  slaves: number
}

const DEFAULT_SHAPE: HistoryShape = {
  run: { recent: HISTORY_RECENT, older: HISTORY_OLDER },
  slave: SLAVE_SERIES,
  slaves: HISTORY_SLAVES,
}

/**
 * The figures since this master started, a sample a status document of the status timer, in
 * memory bounded whatever the run's length and however many slaves come and go: the run's
 * and the master's figures in one {@link TieredSeries}, and one per slave, for at most
 * {@link HISTORY_SLAVES} slaves. A slave that left keeps its series until a new slave needs
 * the room: the one that left first goes first. Beyond that many slaves connected at once,
 * the newest are not kept (`omitted` counts them) until one that is kept leaves.
 */
export class RunHistory {
  readonly #startedAt: string
  readonly #shape: HistoryShape
  readonly #run: TieredSeries
  readonly #slaves = new Map<number, SlaveEntry>()
  #samples = 0
  #omitted = 0
  /** Slaves kept that have left: while there is none, a new slave finds no room without a look. */
  #left = 0

  /** @param startedAt when this master started (ms) */
  constructor(startedAt: number, shape: HistoryShape = DEFAULT_SHAPE) {
    this.#startedAt = new Date(startedAt).toISOString()
    this.#shape = shape
    this.#run = new TieredSeries(RUN_MERGES, shape.run)
  }

  /** Samples each older point of the run holds now (1 until the older points first fill). */
  get width(): number {
    return this.#run.width
  }

  /** Slaves kept now. */
  get slaveCount(): number {
    return this.#slaves.size
  }

  /** Bytes the history holds at most now: every series, and each slave's entry at its largest. */
  get bytes(): number {
    let bytes = this.#run.bytes
    for (const entry of this.#slaves.values()) bytes += entry.series.bytes + SLAVE_ENTRY_BYTES
    return bytes
  }

  /** Bytes the history may ever hold with its shape: the run's series and its most slaves at their largest. */
  get maxBytes(): number {
    const slave = new TieredSeries(SLAVE_MERGES, this.#shape.slave).bytes + SLAVE_ENTRY_BYTES
    return this.#run.bytes + this.#shape.slaves * slave
  }

  /** Adds the figures of a status document (one of the status timer's). */
  record(status: RunStatus): void {
    const at = Date.parse(status.time)
    const r = status.run
    const m = status.master
    this.#run.record(at, [r.done, r.failed, r.rate, r.inFlight, r.queued, m.cpuPercent, m.rss, m.netIn, m.netOut])
    const sample = ++this.#samples
    // Who left first: their room is free for a slave new in this sample.
    for (const slave of status.slaves) {
      const entry = this.#slaves.get(slave.id)
      if (entry !== undefined) entry.seen = sample
    }
    for (const entry of this.#slaves.values())
      if (entry.seen !== sample && entry.leftAt === undefined) {
        entry.leftAt = at
        this.#left++
      }
    let omitted = 0
    for (const slave of status.slaves) {
      const entry = this.#slaves.get(slave.id) ?? this.#admit(slave.id, slave.hostname, slave.pid, slave.address, slave.connectedAt)
      if (entry === undefined) omitted++
      else entry.series.record(at, [slave.cpuPercent, slave.rss, slave.netIn, slave.netOut])
    }
    this.#omitted = omitted
  }

  /** A new slave's entry, if there is room: a free one, or the room of the slave that left first. */
  #admit(id: number, hostname: string, pid: number, address: string, connectedAt: string): SlaveEntry | undefined {
    let series: TieredSeries | undefined
    if (this.#slaves.size >= this.#shape.slaves) {
      if (this.#left === 0) return undefined
      let first: SlaveEntry | undefined
      for (const entry of this.#slaves.values())
        if (entry.leftAt !== undefined && (first === undefined || entry.leftAt < first.leftAt!)) first = entry
      if (first === undefined) return undefined
      this.#slaves.delete(first.id)
      this.#left--
      series = first.series
      series.clear()
    }
    const entry: SlaveEntry = {
      id,
      name: cut(`${hostname}:${pid}`, HISTORY_NAME_MAX),
      address: cut(address, ADDRESS_MAX),
      connectedAt,
      leftAt: undefined,
      seen: this.#samples,
      series: series ?? new TieredSeries(SLAVE_MERGES, this.#shape.slave),
    }
    this.#slaves.set(id, entry)
    return entry
  }

  /**
   * What `GET /history` answers, made now (tens of milliseconds at its largest: the HTTP
   * surface makes it at most every few seconds). Slaves' points share their times, so each
   * time is written once.
   */
  document(): HistoryDocument {
    const times = new Map<number, string>()
    const iso = (at: number): string => {
      let time = times.get(at)
      if (time === undefined) times.set(at, (time = new Date(at).toISOString()))
      return time
    }
    const master: ResourcePoint[] = []
    const run = this.#run.map((at, samples, v): HistoryPoint => {
      const time = iso(at)
      master.push(resourcePoint(time, samples, v[5], v[6], v[7], v[8]))
      return { time, samples, done: v[0], failed: v[1], rate: round(v[2]), inFlight: round(v[3]), queued: round(v[4]) }
    })
    const slaves: SlaveHistory[] = []
    for (const entry of this.#slaves.values()) {
      slaves.push({
        id: entry.id,
        name: entry.name,
        address: entry.address,
        connectedAt: entry.connectedAt,
        leftAt: entry.leftAt === undefined ? null : new Date(entry.leftAt).toISOString(),
        points: entry.series.map((at, samples, v) => resourcePoint(iso(at), samples, v[0], v[1], v[2], v[3])),
      })
    }
    return { version: HISTORY_VERSION, startedAt: this.#startedAt, run, master, slaves, omitted: this.#omitted }
  }
}

function resourcePoint(time: string, samples: number, cpuPercent: number, rss: number, netIn: number, netOut: number): ResourcePoint {
  return { time, samples, cpuPercent: Math.round(cpuPercent * 100) / 100, rss: Math.round(rss), netIn, netOut }
}

/** A mean to four significant digits: a chart needs no more, and the document stays small. */
function round(value: number): number {
  return Number(value.toPrecision(4))
}

/**
 * `text` of at most `max` characters: cut, ending with `…`, when longer. A cut is copied
 * into a string of its own: V8's slice of a long string keeps the whole of it alive, and a
 * slave's host name of megabytes would outlive its connection in the history.
 */
function cut(text: string, max: number): string {
  return text.length <= max ? text : Buffer.from(text.slice(0, max - 1) + '…').toString()
}
