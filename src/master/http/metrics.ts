import { Counter, Gauge, Registry } from 'prom-client'
import type { RouteHandler } from './router.js'
import { sendText } from '../engine/index.js'
import type { MasterFigures, RunFigures, RunStatus, SlaveFigures } from '../engine/index.js'

/** Labels of the run's metrics. */
const RUN_LABELS = ['key'] as const
/** Labels of a slave's metrics: which run, which connection, where. */
const SLAVE_LABELS = ['key', 'slave', 'address', 'hostname'] as const

type Kind = 'counter' | 'gauge'

/** One metric read from figures `F` (a run's value may be null: not exported then). */
interface Metric<F, V extends number | null = number> {
  name: string
  kind: Kind
  help: string
  value: (figures: F) => V
}

type RunMetric = Metric<RunFigures, number | null>

/** What a process's resources are, the master's or a slave's. */
type ResourceFigures = Pick<MasterFigures, 'cpuPercent' | 'rss' | 'netIn' | 'netOut'>

/** The help of a process's resource metrics: what the CPU is over, when memory was read, whose bytes. */
interface ResourceHelp {
  cpu: string
  rss: string
  netIn: string
  netOut: string
}

/** The four resource metrics of a process, `taskmaster_<who>_...`: CPU, memory, bytes received and sent. */
function resourceMetrics(who: 'master' | 'slave', help: ResourceHelp): Metric<ResourceFigures>[] {
  return [
    { name: `taskmaster_${who}_cpu_percent`, kind: 'gauge', help: help.cpu, value: (f) => f.cpuPercent },
    { name: `taskmaster_${who}_resident_memory_bytes`, kind: 'gauge', help: help.rss, value: (f) => f.rss },
    { name: `taskmaster_${who}_network_receive_bytes_total`, kind: 'counter', help: help.netIn, value: (f) => f.netIn },
    { name: `taskmaster_${who}_network_transmit_bytes_total`, kind: 'counter', help: help.netOut, value: (f) => f.netOut },
  ]
}

/**
 * Every run metric, from the status document: names follow Prometheus' conventions
 * (`_total` for counters, the unit in the name, base units: seconds and bytes).
 */
export const RUN_METRICS: readonly RunMetric[] = [
  { name: 'taskmaster_jobs_done_total', kind: 'counter', help: 'Jobs done over the whole run (every master of it).', value: (r) => r.done },
  {
    name: 'taskmaster_jobs_failed_total',
    kind: 'counter',
    help: 'Jobs written to the failed-jobs log over the whole run.',
    value: (r) => r.failed,
  },
  {
    name: 'taskmaster_jobs_skipped_total',
    kind: 'counter',
    help: 'Jobs this master skipped because an earlier master of the run had finished them.',
    value: (r) => r.skipped,
  },
  { name: 'taskmaster_session_jobs_done_total', kind: 'counter', help: 'Jobs done by this master.', value: (r) => r.session.done },
  {
    name: 'taskmaster_session_jobs_failed_total',
    kind: 'counter',
    help: 'Jobs this master wrote to the failed-jobs log.',
    value: (r) => r.session.failed,
  },
  { name: 'taskmaster_jobs_in_flight', kind: 'gauge', help: 'Jobs sent to slaves and not finished yet.', value: (r) => r.inFlight },
  { name: 'taskmaster_jobs_queued', kind: 'gauge', help: 'Jobs in the buffer, waiting for a slave.', value: (r) => r.queued },
  { name: 'taskmaster_jobs_waiting', kind: 'gauge', help: 'Jobs waiting out a retry delay.', value: (r) => r.waiting },
  {
    name: 'taskmaster_jobs_expected',
    kind: 'gauge',
    help: "Jobs of the whole run (the jobs module's total, or an estimate: see taskmaster_jobs_expected_estimated); absent without a total.",
    value: (r) => r.total,
  },
  {
    name: 'taskmaster_jobs_expected_estimated',
    kind: 'gauge',
    help: '1 while taskmaster_jobs_expected is an estimate, not a count, else 0; absent without a total.',
    value: (r) => (r.total === null ? null : r.totalEstimated ? 1 : 0),
  },
  {
    name: 'taskmaster_position',
    kind: 'gauge',
    help: "Jobs known finished contiguously from the generator's first (the watermark plus one).",
    value: (r) => r.position,
  },
  {
    name: 'taskmaster_progress_ratio',
    kind: 'gauge',
    help: 'Finished jobs over the total, 0 to 1; absent without a total.',
    value: (r) => (r.percent === null ? null : r.percent / 100),
  },
  {
    name: 'taskmaster_rate_jobs_per_second',
    kind: 'gauge',
    help: 'Jobs finished per second over the last 10 s (this master).',
    value: (r) => r.rate,
  },
  {
    name: 'taskmaster_eta_seconds',
    kind: 'gauge',
    help: 'Seconds left at the current rate; absent without a total or while the rate is 0.',
    value: (r) => (r.etaMs === null ? null : r.etaMs / 1000),
  },
  {
    name: 'taskmaster_elapsed_seconds',
    kind: 'gauge',
    help: 'Seconds the whole run has run (every master of it).',
    value: (r) => r.elapsedMs / 1000,
  },
  {
    name: 'taskmaster_session_elapsed_seconds',
    kind: 'gauge',
    help: 'Seconds this master has run.',
    value: (r) => r.session.elapsedMs / 1000,
  },
  // The controls. The throttle's reason is free text (a lag in seconds, an error): as a
  // label it would make a new series per reason, so it stays in /status and on the page.
  {
    name: 'taskmaster_paused',
    kind: 'gauge',
    help: '1 while the run is paused (no new jobs go out), else 0.',
    value: (r) => (r.controls.paused ? 1 : 0),
  },
  {
    name: 'taskmaster_throttled',
    kind: 'gauge',
    help: '1 while the throttle check holds dispatch (the reason is in /status), else 0.',
    value: (r) => (r.controls.throttled === null ? 0 : 1),
  },
  {
    name: 'taskmaster_rate_limit_jobs_per_second',
    kind: 'gauge',
    help: 'The fleet-wide rate limit (--rate); absent while there is none.',
    value: (r) => r.controls.rate,
  },
  {
    name: 'taskmaster_max_in_flight_limit',
    kind: 'gauge',
    help: 'The fleet-wide cap on jobs in flight (--max-in-flight); absent while there is none.',
    value: (r) => r.controls.maxInFlight,
  },
]

/** The master's own process, beside the slaves' figures: one series, labelled with the run's key. */
export const MASTER_METRICS: readonly Metric<MasterFigures>[] = resourceMetrics('master', {
  cpu: 'CPU the master process used over the last status period, in percent of one core.',
  rss: 'Resident memory of the master process.',
  netIn: "Bytes the master's port received since it listened (slaves' WebSockets and HTTP).",
  netOut: "Bytes the master's port sent since it listened (slaves' WebSockets and HTTP).",
})

/** Every slave metric, one series per connected slave. */
export const SLAVE_METRICS: readonly Metric<SlaveFigures>[] = [
  {
    name: 'taskmaster_slave_jobs_done_total',
    kind: 'counter',
    help: 'Jobs this slave finished successfully on this connection.',
    value: (s) => s.done,
  },
  {
    name: 'taskmaster_slave_attempts_failed_total',
    kind: 'counter',
    help: 'Failed attempts this slave reported on this connection.',
    value: (s) => s.failed,
  },
  { name: 'taskmaster_slave_jobs_in_flight', kind: 'gauge', help: 'Jobs in flight on this slave.', value: (s) => s.inFlight },
  { name: 'taskmaster_slave_concurrency', kind: 'gauge', help: 'Jobs this slave runs at once.', value: (s) => s.concurrency },
  {
    name: 'taskmaster_slave_rate_jobs_per_second',
    kind: 'gauge',
    help: 'Jobs per second this slave finished over the last 10 s.',
    value: (s) => s.rate,
  },
  ...resourceMetrics('slave', {
    cpu: 'CPU the slave process used over its last report, in percent of one core.',
    rss: 'Resident memory of the slave process at its last report.',
    netIn: 'Bytes the slave received on this connection, at its last report.',
    netOut: 'Bytes the slave sent on this connection, at its last report.',
  }),
]

type Series = Gauge<string> | Counter<string>

/** Gives a series `value` for `labels`: counters have no set, so a fresh series is counted up to it. */
function put(metric: Series, labels: Record<string, string>, value: number): void {
  if (metric instanceof Gauge) metric.set(labels, value)
  else metric.inc(labels, value)
}

/**
 * The run's figures in the Prometheus text format, for `GET /metrics`. Its own registry
 * (never prom-client's global one: two masters in a process must not mix), and no work on
 * the per-job path: at scrape time every metric is set from the last status document,
 * so `/metrics` and `/status` of one moment agree.
 */
export class RunMetrics {
  readonly #registry = new Registry()
  readonly #status: () => RunStatus
  /** The document of the scrape in progress: every metric reads the same one. */
  #doc: RunStatus | undefined

  /** @param status gives the last status document */
  constructor(status: () => RunStatus) {
    this.#status = status
    // Read at scrape time only: the run builds its first document after its metrics.
    const doc = (): RunStatus => this.#doc ?? this.#status()
    const create = (kind: Kind, name: string, help: string, labelNames: readonly string[], collect: (this: Series) => void): void => {
      const config = { name, help, labelNames, registers: [this.#registry], collect }
      if (kind === 'gauge') new Gauge(config)
      else new Counter(config)
    }
    create('gauge', 'taskmaster_run_info', 'The run: 1, labelled with its key and state.', ['key', 'state'], function () {
      this.reset()
      put(this, { key: doc().run.key, state: doc().run.state }, 1)
    })
    create(
      'gauge',
      'taskmaster_status_time_seconds',
      'When the status document these figures come from was built (Unix time).',
      RUN_LABELS,
      function () {
        this.reset()
        put(this, { key: doc().run.key }, Date.parse(doc().time) / 1000)
      },
    )
    create('gauge', 'taskmaster_slaves', 'Slaves connected.', RUN_LABELS, function () {
      this.reset()
      put(this, { key: doc().run.key }, doc().slaves.length)
    })
    for (const m of RUN_METRICS) {
      create(m.kind, m.name, m.help, RUN_LABELS, function () {
        this.reset()
        const value = m.value(doc().run)
        if (value !== null) put(this, { key: doc().run.key }, value)
      })
    }
    for (const m of MASTER_METRICS) {
      create(m.kind, m.name, m.help, RUN_LABELS, function () {
        this.reset()
        put(this, { key: doc().run.key }, m.value(doc().master))
      })
    }
    for (const m of SLAVE_METRICS) {
      create(m.kind, m.name, m.help, SLAVE_LABELS, function () {
        // Slaves that left have no series any more.
        this.reset()
        const key = doc().run.key
        for (const slave of doc().slaves)
          put(this, { key, slave: String(slave.id), address: slave.address, hostname: slave.hostname }, m.value(slave))
      })
    }
  }

  /** The `content-type` of {@link text}. */
  get contentType(): string {
    return this.#registry.contentType
  }

  /** Every metric, from the last status document, in the Prometheus text format. */
  async text(): Promise<string> {
    this.#doc = this.#status()
    try {
      return await this.#registry.metrics()
    } finally {
      this.#doc = undefined
    }
  }
}

/** The `GET /metrics` route of `metrics`. */
export function metricsRoute(metrics: RunMetrics): RouteHandler {
  return async (req, res) => {
    let body: string
    try {
      body = await metrics.text()
    } catch (error) {
      return sendText(res, 500, `Cannot build the metrics: ${(error as Error).message}\n`)
    }
    res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}
