import { once } from 'node:events'
import { Duplex } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { answerClientError } from '../../../../src/master/engine/answers.js'

/** A connection without a socket: what reaches the wire is recorded; `_httpMessage` is the answer under way, as Node sets it. */
class Connection extends Duplex {
  readonly wire: string[] = []
  _httpMessage: { headersSent: boolean } | null = null

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.wire.push(chunk.toString())
    done()
  }

  override _read(): void {}
}

const parseError = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code })

describe('answerClientError', () => {
  it('answers bytes that are no request with 400 (431 for headers too large) and closes the connection', async () => {
    for (const [code, line] of [
      ['HPE_INVALID_METHOD', 'HTTP/1.1 400 Bad Request'],
      ['HPE_HEADER_OVERFLOW', 'HTTP/1.1 431 Request Header Fields Too Large'],
    ]) {
      const connection = new Connection()
      answerClientError(parseError(code), connection)
      await once(connection, 'close')
      expect(connection.wire.join('').split('\r\n')[0]).toBe(line)
    }
  })

  it('sends what an answer under way wrote, still corked, before it closes the connection (an event stream followed by garbage)', async () => {
    const connection = new Connection()
    connection._httpMessage = { headersSent: true }
    // Node's HTTP answer corks its connection until the next tick: a parse error can come before.
    connection.cork()
    connection.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n')
    answerClientError(parseError('HPE_INVALID_EOF_STATE'), connection)
    await once(connection, 'close')
    expect(connection.wire.join('')).toBe('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n')
    expect(connection.destroyed).toBe(true)
  })
})
