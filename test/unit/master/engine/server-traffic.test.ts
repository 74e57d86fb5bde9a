import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { Server } from '../../../../src/master/engine/server.js'

/** A server on port 0 with no routes (plain requests get 426), its log kept. */
async function listening(): Promise<{ server: Server; port: number }> {
  const server = new Server(
    { token: undefined, maxFrame: 1 << 20, heartbeat: 30, maxSlaves: 10, run: 'r' },
    { open: () => {}, message: () => {}, close: () => {}, log: () => {} },
  )
  const { port } = await server.listen('127.0.0.1', 0)
  return { server, port }
}

/** Sends `request` on a connection of its own and resolves with every byte answered once the master closes it. */
function exchange(port: number, request: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request))
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks)))
  })
}

describe("the master port's traffic", () => {
  it('counts the bytes of every connection, read and written, those closed included', async () => {
    const { server, port } = await listening()
    expect(server.traffic()).toEqual({ netIn: 0, netOut: 0 })
    const request = 'GET /anything HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
    const answer = await exchange(port, request)
    expect(answer.toString()).toMatch(/^HTTP\/1\.1 426 /)
    expect(server.traffic()).toEqual({ netIn: request.length, netOut: answer.length })
    const again = await exchange(port, request)
    expect(server.traffic()).toEqual({ netIn: 2 * request.length, netOut: answer.length + again.length })
    // Every connection closed with the port: their bytes stay counted.
    await server.close(1001, 'test over')
    expect(server.traffic()).toEqual({ netIn: 2 * request.length, netOut: answer.length + again.length })
  })
})
