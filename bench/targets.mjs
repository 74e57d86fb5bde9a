// The targets of the throughput issue and of "fast by default" (issue 12), read off one
// benchmark run's rows: one line per target whose scenarios ran. Ratios of scenarios run
// side by side are what this noisy machine lets us compare; the bare pipeline's own
// two-to-one ratio is printed next to ours. Headline scenarios run on defaults; `-tuned`
// ones with the settings users had to guess before (concurrency 1, --prefetch 4000). The
// start-up row (issue 24) has its own line: bench/start-up.mjs.
import { startUpTarget } from './start-up.mjs'

const M = (x) => `${(x / 1e6).toFixed(2)} M`
const pct = (x) => `${(x * 100).toFixed(1)} %`
const growth = (a, b) => `${a} -> ${b} MB (${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %)`

/** Lines describing each target met or not, from the rows of `npm run bench`. */
export function targetLines(rows) {
  const row = (name) => rows.find((r) => r.scenario === name)
  const lines = []
  const one = row('1-slave')
  const two = row('2-slaves')
  const bare1 = row('bare-1')
  const bare2 = row('bare-2')
  if (one) {
    const vsBare = bare1 ? `, ${(one.jobsPerSecond / bare1.jobsPerSecond).toFixed(2)} of the bare pipeline` : ''
    lines.push(`1 master + 1 slave >= 1 M jobs/s (aim 2 M): ${M(one.jobsPerSecond)} jobs/s${vsBare} -- ${one.jobsPerSecond >= 1e6 ? 'met' : 'NOT met'}`)
  }
  const tuned = row('1-slave-tuned')
  if (one && tuned) {
    const ratio = one.jobsPerSecond / tuned.jobsPerSecond
    lines.push(`defaults >= 0.8 of the tuned setting and >= 1.5 M jobs/s: ${M(one.jobsPerSecond)} jobs/s, ${ratio.toFixed(2)} of ${M(tuned.jobsPerSecond)} -- ${ratio >= 0.8 && one.jobsPerSecond >= 1.5e6 ? 'met' : ratio >= 0.8 ? 'ratio met, 1.5 M NOT met' : 'NOT met'}`)
  }
  const twoTuned = row('2-slaves-tuned')
  if (two && twoTuned) {
    const ratio = two.jobsPerSecond / twoTuned.jobsPerSecond
    lines.push(`2 slaves, defaults >= 0.8 of tuned: ${ratio.toFixed(2)} -- ${ratio >= 0.8 ? 'met' : 'NOT met'}`)
  }
  for (const c of [16, 64, 256]) {
    const r = row(`c${c}`)
    if (r && tuned) {
      const ratio = r.jobsPerSecond / tuned.jobsPerSecond
      lines.push(`--concurrency ${c}, no --prefetch >= 0.8 of tuned: ${M(r.jobsPerSecond)} jobs/s, ${ratio.toFixed(2)} -- ${ratio >= 0.8 ? 'met' : 'NOT met'}`)
    }
  }
  if (one && two) {
    const ratio = two.jobsPerSecond / one.jobsPerSecond
    const bare = bare1 && bare2 ? `; the bare pipeline, 2 consumers against 1: ${(bare2.jobsPerSecond / bare1.jobsPerSecond).toFixed(2)}` : ''
    lines.push(`2 slaves no slower than 1: ${ratio.toFixed(2)} of one slave${bare} -- ${ratio >= 1 ? 'met' : 'NOT met'}`)
  }
  const polled = row('1-slave-status-polled')
  if (one && polled) {
    // Noise: how far apart 1-slave's own runs of this benchmark were (at least 3 %).
    const noise = Math.max(0.03, (Math.max(...one.runs) - Math.min(...one.runs)) / one.jobsPerSecond)
    const ratio = polled.jobsPerSecond / one.jobsPerSecond
    lines.push(`status polled 10/s: within noise of 1-slave: ${M(polled.jobsPerSecond)} against ${M(one.jobsPerSecond)} jobs/s, ${ratio.toFixed(2)} of 1-slave (noise ${(noise * 100).toFixed(1)} %, ${polled.statusPolls} polls answered) -- ${ratio >= 1 - noise ? 'met' : 'NOT met'}`)
  }
  const pg = row('1-slave-pg')
  if (one && pg) {
    const ratio = pg.jobsPerSecond / one.jobsPerSecond
    lines.push(`state in PostgreSQL >= half of the file state (1 slave, no-op): ${M(pg.jobsPerSecond)} against ${M(one.jobsPerSecond)} jobs/s, ${ratio.toFixed(2)} -- ${ratio >= 0.5 ? 'met' : 'NOT met'}`)
  }
  const cpu1 = row('cpu-1-slave')
  const cpu2 = row('cpu-2-slaves')
  if (cpu1 && cpu2) lines.push(`CPU-bound handler, 2 slaves against 1: ${(cpu2.jobsPerSecond / cpu1.jobsPerSecond).toFixed(2)}x (nothing serializes the slaves)`)
  const latency = row('latency-20ms')
  if (latency) {
    const share = latency.jobsPerSecond / 10000
    const tunedLatency = row('latency-20ms-tuned')
    const beside = tunedLatency ? ` (--prefetch 100 beside it: ${pct(tunedLatency.jobsPerSecond / 10000)})` : ''
    lines.push(`latency-bound >= 95 % of 10,000 jobs/s: ${pct(share)}${beside} -- ${share >= 0.95 ? 'met' : 'NOT met'}`)
  }
  const mixed = row('fast-and-slow')
  if (mixed) {
    const [fast, slow] = mixed.jobsPerSlave
    // 10 to 1 in speed: the slow slave's share is 1/11 (9.1 %); 1/6 allows a slow start.
    const share = slow / (fast + slow)
    lines.push(`fast and slow slave share in proportion to speed (10 to 1): ${mixed.jobsPerSlave.join(' / ')}, slow ${pct(share)} -- ${share <= 1 / 6 ? 'met' : 'NOT met'}`)
  }
  const kill = row('kill-20ms')
  if (kill) lines.push(`20 ms handler killed -9 hands back <= ~100 ms of its work: ${kill.repeated} jobs repeated = ${kill.repeatedMs} ms -- ${kill.repeatedMs <= 110 ? 'met' : 'NOT met'}`)
  const small = row('memory-100k')
  const big = row('memory-10M')
  if (small && big) {
    const within = (a, b) => b <= a * 1.1
    const ok = within(small.masterPeakRssMb, big.masterPeakRssMb) && within(small.slavePeakRssMb, big.slavePeakRssMb) && big.masterPeakRssMb < 150
    lines.push(`peak RSS ${big.jobs.toLocaleString('en-US')} jobs within 10 % of ${small.jobs.toLocaleString('en-US')}, master < 150 MB: master ${growth(small.masterPeakRssMb, big.masterPeakRssMb)}, slave ${growth(small.slavePeakRssMb, big.slavePeakRssMb)} -- ${ok ? 'met' : 'NOT met'}`)
  }
  const longer = row('memory-30M')
  if (big && longer) {
    lines.push(`after warm-up, peak RSS ${longer.jobs.toLocaleString('en-US')} jobs against ${big.jobs.toLocaleString('en-US')} (no target: shows whether growth goes on): master ${growth(big.masterPeakRssMb, longer.masterPeakRssMb)}, slave ${growth(big.slavePeakRssMb, longer.slavePeakRssMb)}`)
  }
  const kb = row('1KB-jobs')
  const kbBare = row('bare-1KB')
  if (kb) {
    const vsBare = kbBare ? kb.jobsPerSecond / kbBare.jobsPerSecond : undefined
    const ok = kb.jobsPerSecond >= 500000 && (vsBare === undefined || vsBare >= 0.7)
    lines.push(`1 KB jobs on defaults >= 500,000 jobs/s and >= 0.7 of the bare pipeline: ${kb.jobsPerSecond.toLocaleString('en-US')}${vsBare !== undefined ? `, ${vsBare.toFixed(2)} of ${kbBare.jobsPerSecond.toLocaleString('en-US')}` : ''} -- ${ok ? 'met' : 'NOT met'}`)
  }
  const fleet = row('1000-slaves')
  if (fleet) {
    const share = fleet.masterJobsPerSecond / fleet.idealJobsPerSecond
    const ok = share >= 0.9 && fleet.masterPeakRssMb < 300 && fleet.mostIdleWhileQueued === 0
    lines.push(`${fleet.connections.toLocaleString('en-US')} slaves (50 ms handler) >= 90 % of ${fleet.idealJobsPerSecond.toLocaleString('en-US')} jobs/s, master RSS < 300 MB, none idle while jobs are queued: ${pct(share)}, ${fleet.masterPeakRssMb} MB, master CPU ${fleet.masterCpuSeconds} s, most idle ${fleet.mostIdleWhileQueued}, least-served connection ${fleet.leastServedShare} of the mean -- ${ok ? 'met' : 'NOT met'}`)
  }
  const hundred = row('100-noop')
  const start = row('start-sqlite')
  if (start) lines.push(startUpTarget('the sqlite example', start))
  if (hundred && one) lines.push(`${hundred.connections.toLocaleString('en-US')} no-op slaves against 1 slave: ${M(hundred.masterJobsPerSecond)} against ${M(one.masterJobsPerSecond)} master jobs/s, ${(hundred.masterJobsPerSecond / one.masterJobsPerSecond).toFixed(2)}`)
  return lines
}
