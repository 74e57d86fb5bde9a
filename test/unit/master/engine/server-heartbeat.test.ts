import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { Server } from '../../../../src/master/engine/server.js'
import { encode } from '../../../../src/protocol/codec.js'
import { PROTOCOL_VERSION } from '../../../../src/protocol/messages.js'

describe("the master's heartbeat", () => {
  it('drops no slave while the master itself stalled (its pongs may wait unread); once that passes, a silent one is dropped', async () => {
    let stalledMs = 5000
    const logs: string[] = []
    const closed: string[] = []
    const server = new Server(
      { token: undefined, maxFrame: 1 << 20, heartbeat: 0.1, maxSlaves: 10, run: 'r', stalled: () => stalledMs },
      { open: () => {}, message: () => {}, close: (_session, reason) => closed.push(reason), log: (_level, line) => logs.push(line) },
    )
    const { port } = await server.listen('127.0.0.1', 0)
    // A slave that answers no ping: only the excuse keeps it.
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { autoPong: false })
    await new Promise((resolve) => ws.once('open', resolve))
    ws.send(encode({ type: 'hello', version: PROTOCOL_VERSION, slave: { id: 's', hostname: 'h', pid: 1, concurrency: 1 } }))
    let pings = 0
    await new Promise<void>((resolve) =>
      ws.on('ping', () => {
        if (++pings === 5) resolve()
      }),
    )
    expect({ logs, closed }).toEqual({ logs: [], closed: [] })
    stalledMs = 0
    await new Promise((resolve) => ws.once('close', resolve))
    expect(logs).toEqual([expect.stringMatching(/^Dropped slave h:1 \(127\.0\.0\.1:\d+\): no heartbeat for 0\.2 s$/)])
    await server.close(1001, 'test over')
  })
})
