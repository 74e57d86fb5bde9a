// Raw HTTP over TCP, for requests no HTTP client would send: malformed request lines,
// bad headers, garbage bodies. The bytes go out exactly as given.
import { connect } from 'node:net'

/** What the master answered one raw request. */
export interface RawAnswer {
  /** The answer's first line ('' when the master closed the connection without a word). */
  line: string
  /** The status code of a well-formed status line, else undefined. */
  status: number | undefined
  /** Everything read (all of it with `until: 'close'`, else at least the first line). */
  text: string
  /** How the connection ended: the first line was read (and the client hung up), the server closed it, or it was reset. */
  ended: 'line' | 'closed' | 'reset'
}

/** A well-formed HTTP/1.x status line. */
export const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d) [^\r\n]*$/

/**
 * Sends `bytes` to `host` (host:port) over a fresh TCP connection and reads the answer:
 * with `until: 'line'` up to its first line (then hangs up), with `'close'` until the master
 * closes the connection. `end` half-closes the connection after the bytes (the client has
 * nothing more to say: a request cut short ends there). Rejects after `timeoutMs` with
 * `label` in the message: a master that neither answers nor closes.
 */
export function rawRequest(
  host: string,
  bytes: Buffer | string,
  options: { until: 'line' | 'close'; end?: boolean; label?: string; timeoutMs?: number },
): Promise<RawAnswer> {
  const [address, port] = splitHost(host)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port })
    let text = ''
    let done = false
    let connected = false
    socket.on('connect', () => (connected = true))
    const finish = (ended: RawAnswer['ended']): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const line = text.split('\r\n', 1)[0] ?? ''
      const status = STATUS_LINE.exec(line)?.[1]
      resolve({ line, status: status === undefined ? undefined : Number(status), text, ended })
    }
    const timer = setTimeout(() => {
      if (done) return
      done = true
      socket.destroy()
      reject(
        new Error(
          `No answer and no close within ${options.timeoutMs ?? 30_000} ms for ${options.label ?? 'a raw request'}; read so far: ${JSON.stringify(text.slice(0, 200))}`,
        ),
      )
    }, options.timeoutMs ?? 30_000)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
      if (options.until === 'line' && text.includes('\r\n')) finish('line')
    })
    socket.on('end', () => finish('closed'))
    socket.on('close', () => finish('closed'))
    // Writing a large body to a server that already answered and closed: a reset.
    socket.on('error', (error) => {
      if (connected) return finish(text === '' ? 'reset' : 'closed')
      done = true
      clearTimeout(timer)
      reject(new Error(`Cannot connect to ${host} for ${options.label ?? 'a raw request'}: ${error.message}`))
    })
    socket.write(bytes, () => {
      if (options.end === true && !done) socket.end()
    })
  })
}

/** `127.0.0.1:8080` or `[::1]:8080` as [address, port]. */
function splitHost(host: string): [string, number] {
  const at = host.lastIndexOf(':')
  return [host.slice(0, at).replace(/^\[(.*)\]$/, '$1'), Number(host.slice(at + 1))]
}
