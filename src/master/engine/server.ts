import { readdirSync, readFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { RawData, WebSocket, WebSocketServer } from 'ws'
import { ws } from '../../cjs-packages.js'
import { AuthError, FullError, ListenError, ProtocolError, TlsError } from '../../errors.js'
import type { TaskmasterError } from '../../errors.js'
import type { TlsOptions } from '../../options.js'
import { decodeSlaveMessage, encode } from '../../protocol/codec.js'
import type { MasterMessage, SlaveMessage } from '../../protocol/messages.js'
import { PROTOCOL_VERSION } from '../../protocol/messages.js'
import {
  CLOSE_CODE,
  CLOSE_TIMEOUT_MS,
  HELLO_TIMEOUT_S,
  MASTER_MISSED_HEARTBEATS,
  MAX_CLOSE_REASON_BYTES,
  SOCKET_DEADLINE_S,
} from '../../protocol/constants.js'
import { browserRefusal } from './browser-guard.js'
import { AWAITING_HELLO, CLOSED, Session } from './session.js'
import type { FrameSink } from './dispatcher.js'
import { answerClientError, answerSocket, failRequest, pathForLog, requestTarget, sendText } from './answers.js'
import { isLoopback, tokenMatches } from './token.js'

/** What the server tells the master about. */
export interface ServerHandler {
  /** A slave said a valid hello and was welcomed. */
  open(session: Session): void
  /** A valid message from an active session. */
  message(session: Session, message: SlaveMessage): void
  /** A welcomed session's connection is gone. */
  close(session: Session, reason: string): void
  /** Something worth a line in the log. */
  log(level: 'info' | 'warn', message: string): void
}

/**
 * What a run uses of its server: the WebSocket {@link Server}, or a fake in tests. The
 * dispatcher sends frames through it ({@link FrameSink}); the sessions are the server's,
 * read-only to everyone else.
 */
export interface RunServer extends FrameSink {
  /** Connected sessions by id (welcomed or awaiting their hello). */
  readonly sessions: ReadonlyMap<number, Session>
  /** Starts listening; resolves with the address bound. */
  listen(host: string, port: number): Promise<AddressInfo>
  /** Sends a message to one session (dropped if its connection is gone). */
  send(session: Session, message: MasterMessage): void
  /** Tells an active session to drain: no more jobs; it hands back those not started. */
  drain(session: Session): void
  /** Drains every active session: the master is stopping. */
  drainAll(): void
  /** Cuts a slave off (`why`, for the log): its jobs in flight come back as a lost slave's. */
  drop(session: Session, why: string): void
  /** Keeps a long-lived HTTP answer's socket out of the port's idle cut. */
  keep(socket: Socket): void
  /** Bytes the port received and sent so far, over every connection it accepted (slaves' WebSockets, HTTP). */
  traffic(): PortTraffic
  /** Closes every connection (sending `message` first, if given) and stops listening. */
  close(code: number, reason: string, message?: MasterMessage): Promise<void>
}

/** Bytes through the master's port: what its TCP connections read and wrote (under TLS, the encrypted bytes). */
export interface PortTraffic {
  /** Bytes received. */
  netIn: number
  /** Bytes sent. */
  netOut: number
}

/** What the server needs to know of the run. */
export interface ServerOptions {
  token: string | undefined
  maxFrame: number
  heartbeat: number
  /** Most slaves welcomed at once; a hello beyond is refused with a {@link FullError}. */
  maxSlaves: number
  tls?: TlsOptions | undefined
  /** Id of this master incarnation, sent in `welcome`. */
  run: string
  /** The run's `name=value` arguments, sent in `welcome` (the handlers' `ctx.args`). */
  args?: Record<string, string>
  /** The run's --job-timeout in seconds (0: none), sent in `welcome` to slaves that time out their own batch calls. */
  jobTimeout?: number
  /** The run's key and identity (see WelcomeMessage.identity), sent in `welcome`. */
  identity?: { key: string; id: string }
  /** How far the run's finished jobs are durable (StateStore.durable), sent in `welcome` to slaves that ask. */
  durable?: () => number
  /** Milliseconds of the master's own stall that excuses a slave silent now (StallWatch.excuse); none: 0. */
  stalled?: () => number
  /** Plain HTTP routes on the same port (`/status`); other requests are refused with 426. */
  http?: RequestRoutes | undefined
}

/** What answers the plain HTTP requests of the port: true if it answered `req`, false to leave it to the server (426). */
export interface RequestRoutes {
  handle(req: IncomingMessage, res: ServerResponse): boolean
}

function httpsServer(tls: TlsOptions): HttpServer {
  try {
    return createHttpsServer({ cert: tls.cert, key: tls.key })
  } catch (error) {
    throw new TlsError(`Cannot use the TLS certificate and key (--tls-cert, --tls-key): ${(error as Error).message}`)
  }
}

/** The TCP socket counted at 'connection': under TLS, a request's socket wraps it. */
function tcpOf(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket
}

/** Most connections at once that have not said a valid hello (whatever the descriptor limit). */
const MAX_UNAUTHENTICATED = 1024

/**
 * Descriptors kept free of connections: the run store's (checkpoint temp file, journal,
 * failed-jobs log, lock, directory fsync), local slaves' pipes, Node's own.
 */
const FD_RESERVE = 64

/**
 * How many sockets fit under the process's descriptor limit, given what is open now; Infinity
 * where it cannot be read (Node has no getrlimit: Linux shows it in /proc/self/limits).
 */
function socketBudget(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8')
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1]
    if (soft === undefined || soft === 'unlimited') return Infinity
    const open = readdirSync('/proc/self/fd').length
    return Math.max(1, Number(soft) - open - FD_RESERVE)
  } catch {
    return Infinity
  }
}

/**
 * The master's WebSocket endpoint: one {@link Session} per slave. It owns everything
 * about connections (hello and token, decoding, heartbeats, bad input) and hands the
 * master only valid messages of authenticated sessions.
 */
export class Server implements RunServer {
  readonly #sessions = new Map<number, Session>()
  readonly #http: HttpServer
  readonly #wss: WebSocketServer
  readonly #options: ServerOptions
  readonly #handler: ServerHandler
  readonly #sockets = new Set<Socket>()
  /** Every connection not closed yet, for the port's traffic (#sockets loses those closed to make room before they close). */
  readonly #open = new Set<Socket>()
  /** Bytes of the connections already closed. */
  readonly #closedTraffic: PortTraffic = { netIn: 0, netOut: 0 }
  /** TCP connections with no authenticated session yet, oldest first (a Set keeps insertion order). */
  readonly #unauthenticated = new Set<Socket>()
  /** Sockets that fit under the descriptor limit (set at listen). */
  #budget = Infinity
  #maxUnauthenticated = MAX_UNAUTHENTICATED
  /** The log already said connections were closed for lack of room / accept failed (said once each). */
  #saidFull = false
  #saidAcceptFailed = false
  /** Welcomed sessions not yet closed, against maxSlaves. */
  #slaves = 0
  /** A hello was refused for maxSlaves since a slave last left: the log said it for this burst. */
  #saidNoRoom = false
  /** Peer address of each TCP connection, kept for messages about it after it is gone. */
  readonly #addresses = new WeakMap<Socket, string>()
  #nextId = 1
  /** Set once close() began: how connections are ended. */
  #closing: { code: number; reason: string; bytes: Buffer | undefined } | undefined
  #heartbeat: NodeJS.Timeout | undefined
  /**
   * Connections that made a plain HTTP request: no longer silent, so the hello deadline
   * leaves them to Node's own HTTP timeouts (idle keep-alive, slow headers), which end them
   * between requests rather than in the middle of one.
   */
  readonly #spokeHttp = new WeakSet<Socket>()
  /** The master listens on loopback (set at listen): see {@link browserRefusal}. */
  #loopback = false

  constructor(options: ServerOptions, handler: ServerHandler) {
    this.#options = options
    this.#handler = handler
    this.#http = options.tls ? httpsServer(options.tls) : createHttpServer()
    this.#wss = new ws.WebSocketServer({ noServer: true, maxPayload: options.maxFrame, perMessageDeflate: false })
    this.#http.on('request', (req: IncomingMessage, res: ServerResponse) => this.#request(req, res))
    this.#http.on('clientError', answerClientError)
    // Node closes a CONNECT without a word when nobody listens: it gets an answer like any request.
    this.#http.on('connect', (_req: IncomingMessage, socket: Socket) =>
      answerSocket(socket, 405, 'CONNECT is not served: this is a Taskmaster master\n'),
    )
    this.#http.on('connection', (socket: Socket) => this.#connection(socket))
    this.#http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#upgrade(req, socket, head))
    this.#http.on('tlsClientError', (error: Error, socket: Socket & { _parent?: Socket }) => {
      // The TLS socket may have lost its address by now; the TCP socket under it has not.
      const address = socket.remoteAddress ?? (socket._parent && this.#addresses.get(socket._parent)) ?? 'a client'
      handler.log('warn', `TLS handshake with ${address} failed: ${error.message}`)
    })
  }

  /** Connected sessions by id: only the server adds, changes and removes them. */
  get sessions(): ReadonlyMap<number, Session> {
    return this.#sessions
  }

  /** Starts listening; resolves with the address actually bound. */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        const what =
          error.code === 'EADDRINUSE' ? 'the address is already in use' : error.code === 'EACCES' ? 'permission denied' : error.message
        reject(new ListenError(`Cannot listen on ${host}:${port}: ${what}`, `${host}:${port}`))
      }
      this.#http.once('error', onError)
      this.#http.listen(port, host, () => {
        this.#http.off('error', onError)
        this.#loopback = isLoopback(host)
        // Counted once listening, so what the master holds open by now stays out of the budget.
        this.#budget = socketBudget()
        this.#maxUnauthenticated = Math.min(MAX_UNAUTHENTICATED, Math.max(1, Math.floor(this.#budget / 2)))
        this.#http.on('error', (error: NodeJS.ErrnoException) => this.#acceptFailed(error))
        this.#heartbeat = setInterval(() => this.#beat(), this.#options.heartbeat * 1000)
        this.#heartbeat.unref()
        resolve(this.#http.address() as AddressInfo)
      })
    })
  }

  /** Cuts a slave that stopped answering (`why`): its jobs in flight come back as a lost slave's. */
  drop(session: Session, why: string): void {
    this.#handler.log('warn', `Dropped ${session.label}: ${why}`)
    session.ws.terminate()
  }

  /** Sends a message to one session (dropped if the connection is gone). */
  send(session: Session, message: MasterMessage): void {
    if (session.state === CLOSED) return
    session.ws.send(encode(message))
  }

  /** True while session `id` takes jobs: welcomed, not draining or closing. */
  takesJobs(id: number): boolean {
    return this.#sessions.get(id)?.takesJobs === true
  }

  /**
   * Sends an encoded frame to session `id` (dropped if the connection is gone); `written`
   * is called once the socket has written the bytes, or dropped them.
   */
  sendFrame(id: number, bytes: Buffer, written: () => void): void {
    const session = this.#sessions.get(id)
    if (session !== undefined && session.state !== CLOSED) session.ws.send(bytes, written)
    else written()
  }

  /** Tells an active session to drain: it gets no more jobs, hands back those not started. */
  drain(session: Session): void {
    if (session.drain()) this.send(session, { type: 'drain' })
  }

  /**
   * Keeps a plain HTTP connection that proved the token and stays open (the web page's
   * event stream) like a slave's: not cut by the hello deadline, not closed to make room.
   */
  keep(socket: Socket): void {
    this.#unauthenticated.delete(tcpOf(socket))
  }

  /** Bytes the port received and sent so far: the closed connections' and the open ones' (read from their sockets, nothing counted per frame). */
  traffic(): PortTraffic {
    let { netIn, netOut } = this.#closedTraffic
    for (const socket of this.#open) {
      netIn += socket.bytesRead
      netOut += socket.bytesWritten
    }
    return { netIn, netOut }
  }

  /** Drains every active session (the master is stopping). */
  drainAll(): void {
    for (const session of this.#sessions.values()) this.drain(session)
  }

  /** Closes every connection (with `message` sent first, if given) and stops listening. */
  async close(code: number, reason: string, message?: MasterMessage): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat)
    const bytes = message ? encode(message) : undefined
    this.#closing = { code, reason, bytes }
    // No new slaves while the run closes: one welcomed now would never hear the end.
    const stopped = new Promise<void>((resolve) => this.#http.close(() => resolve()))
    const closing: Promise<void>[] = []
    for (const session of this.#sessions.values()) {
      const ws = session.ws
      closing.push(
        new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve()
          ws.once('close', () => resolve())
          if (bytes && ws.readyState === ws.OPEN) ws.send(bytes)
          ws.close(code, reason)
          // A peer that never answers the close handshake is cut off.
          setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS).unref()
        }),
      )
    }
    await Promise.all(closing)
    for (const socket of this.#sockets) socket.destroy()
    await stopped
  }

  /**
   * Where every plain HTTP request enters: refused if a web page may have sent it to a master
   * without a token (403), else routed, else refused with 426 (this port is for slaves).
   * Nothing a request does is thrown out of here: a throw is a 500 and a log line.
   */
  #request(req: IncomingMessage, res: ServerResponse): void {
    // An answer that fails (written after its end) ends its own connection, not the master.
    res.on('error', () => res.destroy())
    this.#spokeHttp.add(tcpOf(req.socket))
    try {
      if (
        this.#refused(req, req.method !== 'GET' && req.method !== 'HEAD', (why) => sendText(res, 403, `${why}\n`, { connection: 'close' }))
      )
        return
      if (this.#options.http?.handle(req, res) === true) return
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close', upgrade: 'websocket' })
      res.end('This is a Taskmaster master. Connect to it with tm-slave, not a browser or HTTP client.\n')
      this.#handler.log('warn', `Refused a plain HTTP request (${req.method} ${pathForLog(req)}) from ${req.socket.remoteAddress}`)
    } catch (error) {
      failRequest(req, res, error, (level, message) => this.#handler.log(level, message))
    }
  }

  /** A WebSocket upgrade: refused like a request (403, 400 for a target that is no path), else handed to the WebSocket server. */
  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy())
    try {
      if (this.#refused(req, true, (why) => answerSocket(socket, 403, `${why}\n`))) return
      if (requestTarget(req.url) === undefined) return answerSocket(socket, 400, 'Malformed request target: expected a path such as /\n')
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req))
    } catch (error) {
      this.#handler.log(
        'warn',
        `Could not take a WebSocket upgrade from ${req.socket.remoteAddress}: ${(error as Error).message}; the run goes on`,
      )
      socket.destroy()
    }
  }

  /** Refuses (with `refuse`, and a log line) what a web page may have sent; true if refused. */
  #refused(req: IncomingMessage, acts: boolean, refuse: (why: string) => void): boolean {
    const why = browserRefusal(req.headers, acts, { hasToken: this.#options.token !== undefined, loopback: this.#loopback })
    if (why === undefined) return false
    this.#handler.log(
      'warn',
      `Refused ${req.method} ${pathForLog(req)} from ${req.socket.remoteAddress}: a web page may have sent it (Host or Origin)`,
    )
    refuse(why)
    return true
  }

  /**
   * Every TCP connection, counted before any upgrade (silent sockets and plain HTTP count
   * too): one without a valid hello within HELLO_TIMEOUT_S is cut, and beyond the caps the
   * oldest unauthenticated ones are closed first, so connections without the token can
   * neither starve the run store of descriptors nor keep slaves out for long.
   */
  #connection(socket: Socket): void {
    this.#sockets.add(socket)
    this.#open.add(socket)
    this.#unauthenticated.add(socket)
    this.#addresses.set(socket, socket.remoteAddress ?? 'a client')
    // Later than the WebSocket's own hello deadline, which closes with a clear error: this
    // one is for sockets that never upgrade nor make a request (silent, or slow HTTP).
    const deadline = setTimeout(() => {
      if (this.#unauthenticated.has(socket) && !this.#spokeHttp.has(socket)) socket.destroy()
    }, SOCKET_DEADLINE_S * 1000)
    deadline.unref()
    socket.on('close', () => {
      clearTimeout(deadline)
      this.#open.delete(socket)
      this.#closedTraffic.netIn += socket.bytesRead
      this.#closedTraffic.netOut += socket.bytesWritten
      this.#sockets.delete(socket)
      this.#unauthenticated.delete(socket)
    })
    while (this.#unauthenticated.size > this.#maxUnauthenticated || this.#sockets.size > this.#budget) {
      const oldest = this.#unauthenticated.values().next().value
      if (oldest === undefined) break
      if (!this.#saidFull) {
        this.#saidFull = true
        const limit =
          this.#sockets.size > this.#budget
            ? `${this.#budget} connections fit under the open-file limit (ulimit -n)`
            : `the limit is ${this.#maxUnauthenticated}`
        this.#handler.log('warn', `Too many connections without a hello (${limit}): closing the oldest ones; said once, the run goes on`)
      }
      // Out of the sets at once: the close event comes later.
      this.#unauthenticated.delete(oldest)
      this.#sockets.delete(oldest)
      oldest.destroy()
    }
  }

  /** Accepting failed (out of descriptors): the listener goes on, and the run with it. */
  #acceptFailed(error: NodeJS.ErrnoException): void {
    if (this.#saidAcceptFailed) return
    this.#saidAcceptFailed = true
    const why = error.code === 'EMFILE' || error.code === 'ENFILE' ? 'too many open files (ulimit -n)' : error.message
    this.#handler.log('warn', `Cannot accept a connection: ${why}; said once, the run goes on`)
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`
    const tcp = tcpOf(req.socket)
    const session = new Session(this.#nextId++, ws, remote, tcp)
    this.#sessions.set(session.id, session)
    const helloTimer = setTimeout(() => {
      if (session.state === AWAITING_HELLO)
        this.#reject(session, new ProtocolError(`No hello within ${HELLO_TIMEOUT_S} s`, CLOSE_CODE.policy))
    }, HELLO_TIMEOUT_S * 1000)
    helloTimer.unref()
    ws.on('pong', () => session.heard())
    ws.on('message', (data: RawData, isBinary: boolean) => {
      session.heard()
      if (!isBinary)
        return this.#reject(
          session,
          new ProtocolError('Text frames are not part of the protocol; frames must be binary MessagePack', CLOSE_CODE.unsupported),
        )
      let message: SlaveMessage
      try {
        message = decodeSlaveMessage(data as Buffer)
      } catch (error) {
        return this.#reject(session, error as ProtocolError)
      }
      if (session.state === AWAITING_HELLO) {
        if (message.type !== 'hello') return this.#reject(session, new ProtocolError(`Expected 'hello' first, got '${message.type}'`))
        clearTimeout(helloTimer)
        return this.#hello(session, message)
      }
      if (message.type === 'hello') return this.#reject(session, new ProtocolError("Unexpected second 'hello'"))
      if (message.type === 'error') {
        this.#handler.log('warn', `${session.label} reported: ${message.message}`)
        return
      }
      if (message.type === 'stats') {
        session.report(message)
        return
      }
      this.#handler.message(session, message)
    })
    ws.on('error', (error: Error & { code?: string }) => {
      const text =
        error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
          ? `frame larger than the limit of ${this.#options.maxFrame} bytes (--max-frame)`
          : error.message
      this.#handler.log('warn', `Closed ${session.label}: ${text}`)
    })
    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(helloTimer)
      const welcomed = session.closed()
      this.#sessions.delete(session.id)
      if (!welcomed) return
      this.#slaves--
      // Room again: the next refusal starts a new burst, worth a line.
      this.#saidNoRoom = false
      this.#handler.close(session, reason.length > 0 ? reason.toString() : `code ${code}`)
    })
  }

  #hello(session: Session, hello: Extract<SlaveMessage, { type: 'hello' }>): void {
    const closing = this.#closing
    if (closing !== undefined) {
      // A slave that got in while the run closes hears how it ended, like the others.
      if (closing.bytes !== undefined) session.ws.send(closing.bytes)
      session.ws.close(closing.code, closing.reason)
      return
    }
    const token = this.#options.token
    if (token !== undefined && !tokenMatches(token, hello.token)) {
      const why = hello.token === undefined ? 'no token was given' : 'the token is wrong'
      this.#reject(session, new AuthError(`Access refused: ${why} (give the run's token with --token or TM_TOKEN)`))
      return
    }
    // What a slave says of itself is believed (and logged) only once it is authenticated.
    session.authenticated(hello.slave)
    // Authenticated: no longer among the connections that can be closed to make room.
    this.#unauthenticated.delete(session.socket)
    const max = this.#options.maxSlaves
    if (this.#slaves >= max) {
      // Refused slaves retry with backoff: one line per burst, not one per attempt.
      const log = !this.#saidNoRoom
      this.#saidNoRoom = true
      if (log)
        this.#handler.log(
          'warn',
          `Refused ${session.label}: the master already serves ${this.#slaves} slaves (--max-slaves ${max}); said once until a slave leaves, the run goes on`,
        )
      this.#reject(
        session,
        new FullError(`The master is full: it serves at most ${max} slaves (--max-slaves ${max}); try again later`),
        false,
      )
      return
    }
    this.#slaves++
    session.welcome(Math.min(this.#options.maxFrame, hello.slave.maxFrame ?? Infinity))
    const { identity, durable } = this.#options
    this.send(session, {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      run: this.#options.run,
      session: session.id,
      heartbeat: this.#options.heartbeat,
      args: this.#options.args ?? {},
      ...(this.#options.jobTimeout ? { jobTimeout: this.#options.jobTimeout } : {}),
      ...(identity === undefined ? {} : { key: identity.key, identity: identity.id }),
      ...(hello.slave.durable === true && durable !== undefined ? { durable: durable() } : {}),
    })
    this.#handler.open(session)
  }

  /** Tells the peer what was wrong, logs it once (unless the caller did), and closes the connection. */
  #reject(session: Session, error: TaskmasterError & { closeCode?: number }, log = true): void {
    if (session.ws.readyState !== session.ws.OPEN) return
    // No more jobs into a connection being closed; its jobs in flight come back on close.
    session.closing()
    if (log) this.#handler.log('warn', `Closed ${session.label}: ${error.message}`)
    session.ws.send(encode({ type: 'error', code: error.code, message: error.message }))
    session.ws.close(error.closeCode ?? CLOSE_CODE.protocol, Buffer.from(error.message).subarray(0, MAX_CLOSE_REASON_BYTES).toString())
    setTimeout(() => session.ws.terminate(), CLOSE_TIMEOUT_MS).unref()
  }

  /**
   * Drops sessions that did not answer the last ping; pings the others. Just after a stall
   * of the master nobody is dropped: their pongs may wait unread behind this timer.
   */
  #beat(): void {
    const stalled = (this.#options.stalled?.() ?? 0) > 0
    for (const session of this.#sessions.values()) {
      if (stalled) session.heard()
      if (session.ping()) session.ws.ping()
      else this.drop(session, `no heartbeat for ${MASTER_MISSED_HEARTBEATS * this.#options.heartbeat} s`)
    }
  }
}
