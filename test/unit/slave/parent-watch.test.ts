import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { HANDOVER_ENV, masterHandover } from '../../../src/slave/master-handover.js'
import { PARENT_WATCH_ENV, parentWatch } from '../../../src/slave/parent-watch.js'

/** A slave process as parentGone sees it: its environment and IPC channel (refs counted). */
class FakeProcess extends EventEmitter {
  env: NodeJS.ProcessEnv
  connected = true
  refs = 1
  channel: { unref: () => void } | null = { unref: () => (this.refs = 0) }
  send = (): boolean => true

  constructor(env: NodeJS.ProcessEnv) {
    super()
    this.env = env
  }

  disconnect(): void {
    this.connected = false
    this.channel = null
    this.emit('disconnect')
  }
}

const watch = (proc: FakeProcess) => parentWatch(proc as unknown as NodeJS.Process)

describe("a local slave's watch on the process that started it", () => {
  it('is not kept without the marker', () => {
    const plain = new FakeProcess({})
    expect(watch(plain)).toBeUndefined()
    expect(plain.listenerCount('disconnect')).toBe(0)
  })

  it('removes the marker at once; started, settles when the channel closes and never keeps the process alive', async () => {
    const proc = new FakeProcess({ [PARENT_WATCH_ENV]: '1' })
    const start = watch(proc)
    expect(proc.env[PARENT_WATCH_ENV]).toBeUndefined()
    // Not started: the channel is as it was (a wait for the master's address keeps it).
    expect(proc.refs).toBe(1)
    const gone = start!()
    expect(proc.refs).toBe(0)
    let settled = false
    void gone.then(() => (settled = true))
    await Promise.resolve()
    expect(settled).toBe(false)
    proc.disconnect()
    await gone
    expect(settled).toBe(true)
  })

  it('settles at once when the parent was gone before (no channel left)', async () => {
    const orphan = new FakeProcess({ [PARENT_WATCH_ENV]: '1' })
    orphan.connected = false
    orphan.channel = null
    await expect(watch(orphan)!()).resolves.toBeUndefined()
  })

  it("keeps the channel open after the master's address came (keepChannel), so the watch goes on", async () => {
    const proc = new FakeProcess({ [PARENT_WATCH_ENV]: '1', [HANDOVER_ENV]: '1' })
    const start = watch(proc)
    const address = masterHandover(proc as unknown as NodeJS.Process, true)
    proc.emit('message', { type: 'master', host: 'ws://127.0.0.1:5050' })
    expect(await address).toEqual({ type: 'master', host: 'ws://127.0.0.1:5050' })
    expect(proc.connected).toBe(true)
    const gone = start!()
    proc.disconnect()
    await gone
  })
})
