import { STATUS_CODES } from 'node:http'
import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

// Answers on a raw socket, where there is no request object to answer through: bytes that
// did not parse as HTTP, or a WebSocket upgrade that is refused. Each closes the connection.

/** Answers on `socket` with `status` and `text` (one line), then closes it. */
export function answerSocket(socket: Duplex, status: number, text: string): void {
  if (socket.writable) {
    const body = Buffer.from(text)
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`)
    socket.write(body)
  }
  socket.destroy()
}

/**
 * The HTTP server's `clientError`: bytes that are no HTTP request (a bad request line,
 * headers too large, a lying Content-Length, chunked garbage) get 400 (431, 408) and a
 * closed connection, unless an answer on that connection had already begun.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
  if (answering?.headersSent === true) {
    socket.destroy()
    return
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  answerSocket(socket, status, status === 431 ? 'Request headers too large\n' : status === 408 ? 'Request timed out\n' : 'Malformed HTTP request\n')
}
