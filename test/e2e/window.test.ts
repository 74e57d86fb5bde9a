// The slave's window on defaults (no --prefetch), seen from the wire: a real tm-slave
// against a master played by the test (so every credit and frame is counted), and a real
// tm-master with a fast and a slow slave sharing a run. Counts only, no timing asserts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { decodeSlaveMessage, encode } from '../../src/protocol/codec.js'
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js'
import { expectEachKeyRan, fixture, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { RANGE, RECORD, expectRunEnds, tearDown, until } from '../helpers/reliability.js'

const SLEEP = `${fixture('window-handlers.mjs')}:sleep`
const NOOP = fixture('noop.mjs')
/** Most jobs a frame of the played master carries (the real master's default --batch-size). */
const BATCH = 1000

/**
 * A master played by the test: welcomes one slave and sends it `{ id }` jobs by its credit,
 * in frames of at most BATCH, for ever. Counts what the slave asked for and held.
 */
class PlayedMaster {
  readonly server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  /** Credit the slave gave and not used yet. */
  credit = 0
  /** Jobs sent, and finished (acked or failed). */
  sent = 0
  finished = 0
  /** The largest frame sent, and the most jobs the slave held (sent, not finished) at once. */
  largestFrame = 0
  mostHeld = 0

  constructor() {
    this.server.on('connection', (ws) => ws.on('message', (data: Buffer) => this.#onMessage(ws, data)))
  }

  get host(): Promise<string> {
    return new Promise((resolve) => {
      const address = () => `127.0.0.1:${(this.server.address() as { port: number }).port}`
      if (this.server.address() !== null) resolve(address())
      else this.server.once('listening', () => resolve(address()))
    })
  }

  #onMessage(ws: WebSocket, data: Buffer): void {
    const message = decodeSlaveMessage(data)
    switch (message.type) {
      case 'hello':
        ws.send(encode({ type: 'welcome', version: PROTOCOL_VERSION, run: 'played', session: 1, heartbeat: 5 }))
        return
      case 'credit':
        this.credit += message.n
        break
      case 'ack':
        for (let i = 1; i < message.ranges.length; i += 2) this.finished += message.ranges[i]
        this.credit += message.credit
        break
      case 'fail':
        this.finished += message.failures.length
        this.credit += message.credit
        break
      default:
        return
    }
    while (this.credit > 0) {
      const n = Math.min(this.credit, BATCH)
      const jobs = Array.from({ length: n }, (_, i) => ({ id: this.sent + i }))
      ws.send(encode({ type: 'jobs', first: this.sent, jobs }))
      this.sent += n
      this.credit -= n
      this.largestFrame = Math.max(this.largestFrame, n)
    }
    this.mostHeld = Math.max(this.mostHeld, this.sent - this.finished)
  }

  close(): Promise<void> {
    for (const client of this.server.clients) client.terminate()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

const played: PlayedMaster[] = []
afterEach(async () => {
  await tearDown()
  for (const master of played.splice(0)) await master.close()
})

function playMaster(): PlayedMaster {
  const master = new PlayedMaster()
  played.push(master)
  return master
}

describe('the adaptive window (defaults: no --prefetch)', () => {
  it('grows for a fast handler until the master sends full frames', async () => {
    const master = playMaster()
    startSlave([NOOP, '--host', await master.host, '-q'])
    // Concurrency 1: a fixed window of concurrency + prefetch would be 2 jobs a frame.
    await until('a full frame of 1000 jobs', () => master.largestFrame === BATCH, 60_000)
    expect(master.largestFrame).toBe(BATCH)
  })

  it('stays small for a slow handler: a few jobs beyond its lanes', async () => {
    const master = playMaster()
    startSlave([SLEEP, '--host', await master.host, '--concurrency', '2', '-q'], { env: { TM_SLEEP_MS: '100' } })
    await until('100 jobs finished', () => master.finished >= 100, 120_000)
    // At most 20 jobs a second: 2 lanes plus 20 jobs/s × (round trip + 50 ms) queued is
    // 2 + 3 on an idle machine; 2 + 20 leaves a round trip of 950 ms to a loaded one.
    expect(master.mostHeld).toBeGreaterThanOrEqual(2)
    expect(master.mostHeld).toBeLessThanOrEqual(2 + 20)
  })

  it('is fixed by --prefetch: never more than concurrency + prefetch, however fast the handler', async () => {
    const master = playMaster()
    startSlave([NOOP, '--host', await master.host, '--concurrency', '2', '--prefetch', '3', '-q'])
    await until('20,000 jobs finished', () => master.finished >= 20_000, 120_000)
    expect([master.mostHeld, master.largestFrame]).toEqual([5, 5])
  })

  it('shares a run between a fast and a slow slave in proportion to their speed', async () => {
    const N = 10_000
    const box = sandbox()
    const { master, host } = await startMaster(
      [RANGE, `n=${N}`, '--key', 'window', '--state-dir', box.stateDir, '--host', '127.0.0.1:0', '--quiet'],
      { env: box.env },
    )
    // 10 lanes each: 2 ms a job (5,000 jobs/s) against 20 ms (500 jobs/s).
    const fast = startSlave([RECORD, '--host', host, '--concurrency', '10', '-q'], { env: { ...box.env, TM_RECORD_DELAY_MS: '2' } })
    const slow = startSlave([RECORD, '--host', host, '--concurrency', '10', '-q'], { env: { ...box.env, TM_RECORD_DELAY_MS: '20' } })
    await expectRunEnds(master, [fast, slow])
    expectEachKeyRan(box.records, N)
    const jobsOf = (slave: typeof fast): number =>
      readFileSync(join(box.records, `record-${slave.child.pid}.txt`), 'utf8')
        .split('\n')
        .filter(Boolean).length
    // 10 to 1 in speed; the slow slave runs about 1/11 of the jobs. Holding a large window
    // it would hoard them (a fixed prefetch of 4,000 takes 40 % of the run at its first credit).
    expect(jobsOf(fast) + jobsOf(slow)).toBe(N)
    expect(jobsOf(slow)).toBeLessThan(N * 0.25)
  })
})
