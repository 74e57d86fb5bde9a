import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { HANDOVER_ENV, isHandover, isHandoverAsked, masterHandover } from '../../../src/slave/master-handover.js'

/** A slave process as masterHandover sees it: its environment, its IPC channel (what it sent, whether it disconnected). */
class FakeProcess extends EventEmitter {
  env: NodeJS.ProcessEnv
  connected = true
  readonly sent: unknown[] = []
  disconnected = false
  send?: (message: unknown) => boolean = (message) => {
    this.sent.push(message)
    return true
  }

  constructor(env: NodeJS.ProcessEnv) {
    super()
    this.env = env
  }

  disconnect(): void {
    this.disconnected = true
    this.connected = false
  }
}

const handover = (proc: FakeProcess) => masterHandover(proc as unknown as NodeJS.Process)

describe("a local slave's handover of its master's address", () => {
  it('is not waited for without the marker: the slave reads its --host', async () => {
    const plain = new FakeProcess({})
    expect(await handover(plain)).toBeUndefined()
    expect(plain.sent).toEqual([])
  })

  it('fails at once when the parent is already gone, or opened no channel: --host is no master of this run', async () => {
    const gone = new FakeProcess({ [HANDOVER_ENV]: '1' })
    gone.connected = false
    await expect(handover(gone)).rejects.toThrow('The master that started this slave went away before it listened')
    const noChannel = new FakeProcess({ [HANDOVER_ENV]: '1' })
    noChannel.send = undefined
    await expect(handover(noChannel)).rejects.toThrow('The master that started this slave went away before it listened')
    // The marker is removed all the same: the handler's own processes never see it.
    expect(noChannel.env[HANDOVER_ENV]).toBeUndefined()
  })

  it('asks the parent once it listens, ignores other messages, and closes the channel once it has the address', async () => {
    const proc = new FakeProcess({ [HANDOVER_ENV]: '1' })
    const handed = handover(proc)
    expect(proc.sent).toEqual([{ type: 'ready' }])
    expect(proc.env[HANDOVER_ENV]).toBeUndefined()
    proc.emit('message', { type: 'other' })
    proc.emit('message', { type: 'master', host: 42 })
    expect(proc.disconnected).toBe(false)
    proc.emit('message', { type: 'master', host: 'ws://127.0.0.1:5050', token: 's3cret' })
    expect(await handed).toEqual({ type: 'master', host: 'ws://127.0.0.1:5050', token: 's3cret' })
    expect(proc.disconnected).toBe(true)
    expect(proc.listenerCount('message') + proc.listenerCount('disconnect')).toBe(0)
  })

  it('fails when the parent goes away before handing it over', async () => {
    const proc = new FakeProcess({ [HANDOVER_ENV]: '1' })
    const handed = handover(proc)
    proc.emit('disconnect')
    await expect(handed).rejects.toThrow('The master that started this slave went away before it listened')
  })

  it('tells its messages from anything else', () => {
    expect(isHandoverAsked({ type: 'ready' })).toBe(true)
    expect([null, 'ready', { type: 'master' }].map(isHandoverAsked)).toEqual([false, false, false])
    expect(isHandover({ type: 'master', host: 'ws://h:1' })).toBe(true)
    expect(isHandover({ type: 'master', host: 'ws://h:1', token: 't' })).toBe(true)
    expect([null, {}, { type: 'master' }, { type: 'master', host: 'ws://h:1', token: 5 }].map(isHandover)).toEqual([
      false,
      false,
      false,
      false,
    ])
  })
})
