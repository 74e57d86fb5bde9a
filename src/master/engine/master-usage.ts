import { hostname } from 'node:os'
import { CpuMeter } from '../../cpu-meter.js'
import type { PortTraffic } from './server.js'
import type { MasterFigures } from './status.js'
import { STATUS_PERIOD_MS } from './status.js'

/**
 * The master's own figures for each status document: CPU over the last status period, its
 * resident memory, the bytes through its port. Read when a document is built, never per job:
 * the CPU from the process's counters, the bytes from the port's sockets.
 */
export class MasterUsage {
  readonly #hostname = hostname()
  /** A document made at a change of the controls, soon after the last one, keeps the last CPU figure. */
  readonly #cpu: CpuMeter
  readonly #traffic: () => PortTraffic

  /** @param traffic the port's bytes so far; @param now when the master started (ms) */
  constructor(traffic: () => PortTraffic, now = Date.now()) {
    this.#traffic = traffic
    this.#cpu = new CpuMeter(now, STATUS_PERIOD_MS / 2)
  }

  /** The master's figures at `now`. */
  figures(now = Date.now()): MasterFigures {
    const { netIn, netOut } = this.#traffic()
    return {
      hostname: this.#hostname,
      pid: process.pid,
      cpuPercent: this.#cpu.read(now) * 100,
      rss: process.memoryUsage.rss(),
      netIn,
      netOut,
    }
  }
}
