import { afterEach } from 'vitest'
import { Master, Slave } from '../../src/index.js'
import type { MasterAddress, MasterOptions, RunSummary, SlaveOptions } from '../../src/index.js'
import { cleanTempDirs } from './proc.js'

/**
 * Library masters and slaves a test file starts in its own process: push them on the
 * returned list and each is stopped at once after every test (stop() twice: the first is
 * graceful, the second does not wait), then the temp dirs are removed.
 */
export function stoppedAfterEach(): { stop(): void }[] {
  const running: { stop(): void }[] = []
  afterEach(() => {
    for (const peer of running.splice(0)) {
      peer.stop()
      peer.stop()
    }
    cleanTempDirs()
  })
  return running
}

/** Starts a library master, pushed on `running`; resolves once it listens (its run's end: `done`, never an unhandled rejection). */
export async function listeningMaster(
  running: { stop(): void }[],
  options: MasterOptions,
): Promise<{ master: Master; address: MasterAddress; done: Promise<RunSummary> }> {
  const m = new Master(options)
  running.push(m)
  const listening = new Promise<MasterAddress>((resolve) => m.once('listening', resolve))
  const done = m.run()
  done.catch(() => {})
  return { master: m, address: await listening, done }
}

/** Starts a library slave, pushed on `running` (its end: `done`, never an unhandled rejection). */
export function runningSlave(running: { stop(): void }[], options: SlaveOptions): { slave: Slave; done: Promise<unknown> } {
  const s = new Slave(options)
  running.push(s)
  const done = s.run()
  done.catch(() => {})
  return { slave: s, done }
}
