import { STATUS_CODES } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

// The answers of the master's port: plain-text and JSON answers to a request, a request's
// target read as a path, a failed request answered with 500; and answers on a raw socket,
// where there is no request object to answer through (bytes that did not parse as HTTP, or a
// WebSocket upgrade that is refused), each closing the connection.

/** What the router tells the master's log. */
export type HttpLog = (level: 'info' | 'warn', message: string) => void

/** Answers on `socket` with `status` and `text` (one line), then closes it. */
export function answerSocket(socket: Duplex, status: number, text: string): void {
  if (socket.writable) {
    const body = Buffer.from(text)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    )
    socket.write(body)
  }
  socket.destroy()
}

/**
 * The HTTP server's `clientError`: bytes that are no HTTP request (a bad request line,
 * headers too large, a lying Content-Length, chunked garbage) get 400 (431, 408) and a
 * closed connection, unless an answer on that connection had already begun: then what it
 * wrote goes out first (an event stream's head is still corked when garbage follows
 * `GET /events` in the same packet), and the connection closes.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
  if (answering?.headersSent === true) {
    socket.end(() => socket.destroy())
    return
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  answerSocket(
    socket,
    status,
    status === 431 ? 'Request headers too large\n' : status === 408 ? 'Request timed out\n' : 'Malformed HTTP request\n',
  )
}

/** An origin-form path (RFC 3986): pchars and slashes, each `%` followed by two hex digits. */
const PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/

/**
 * The URL of a request target, or undefined when it is no path. Parsed as a path of this
 * master, never as an address: `//[` is a path (which has no route), not a host that fails
 * to parse. An absolute target (`http://host/status`, what a client sends a proxy, which
 * servers must take) counts by its path and query.
 */
export function requestTarget(raw: string | undefined): URL | undefined {
  if (raw === undefined) return undefined
  try {
    const target = /^https?:\/\//i.test(raw) ? ((url) => url.pathname + url.search)(new URL(raw)) : raw
    const query = target.indexOf('?')
    if (!PATH.test(query < 0 ? target : target.slice(0, query))) return undefined
    return new URL(`http://master${target}`)
  } catch {
    return undefined
  }
}

/** A request's path for a log line: never its query string, which may hold a token. */
export function pathForLog(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]
}

/**
 * Answers a request whose handling threw or rejected: 500 with the reason in one line (or
 * the connection cut, if an answer had begun), and a line in the log. A client that went
 * away (a body cut short) has nobody to answer: nothing is said.
 */
export function failRequest(req: IncomingMessage, res: ServerResponse, error: unknown, log: HttpLog): void {
  if (res.destroyed) return
  const why = error instanceof Error ? error.message : String(error)
  log('warn', `Could not answer ${req.method} ${pathForLog(req)} from ${req.socket.remoteAddress}: ${why}; the run goes on`)
  if (res.headersSent) res.destroy()
  else sendText(res, 500, `The master could not answer this request: ${why}\n`, { connection: 'close' })
}

/** A plain-text answer that closes nothing but itself. */
export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  })
  res.end(text)
}

/** A JSON answer (`body` already serialized: a Buffer is shared by every answer that sends it, never copied), never cached: it is live. */
export function sendJson(req: IncomingMessage, res: ServerResponse, body: string | Buffer): void {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}
