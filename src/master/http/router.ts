import type { IncomingMessage, ServerResponse } from 'node:http'
import { failRequest, requestTarget, sendText, tokenMatches } from '../engine/index.js'
import type { HttpLog } from '../engine/index.js'

/**
 * Answers one routed request (already authorized). `url` is the parsed request URL. It may
 * return a promise: a rejection is answered like a throw (see {@link failRequest}).
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>

/**
 * The plain HTTP side of the master's port: a small router the server's `request` handler
 * calls (WebSocket upgrades never reach it). Every route is protected by the run's token,
 * like the slaves' endpoint: `Authorization: Bearer <token>` or `?token=<token>`; without
 * it a master that has a token answers 401 (except on an open route: the web page, which
 * holds nothing of the run and asks for the token itself). A path without a route is left
 * to the caller; a target that is no path gets 400. Whatever a route throws or rejects is
 * answered with 500 and a log line, never thrown further.
 * Tokens never reach a log line: requests are logged by path only.
 */
export class HttpRouter {
  readonly #token: string | undefined
  readonly #log: HttpLog
  readonly #routes = new Map<string, RouteHandler>()
  readonly #posts = new Map<string, RouteHandler>()
  /** Paths served without the token. */
  readonly #open = new Set<string>()

  constructor(token: string | undefined, log: HttpLog) {
    this.#token = token
    this.#log = log
  }

  /**
   * Serves GET (and HEAD) requests of `path` with `handler`; `access: 'open'` serves them
   * without the token (only for what holds nothing of the run).
   */
  get(path: string, handler: RouteHandler, access: 'token' | 'open' = 'token'): this {
    this.#routes.set(path, handler)
    if (access === 'open') this.#open.add(path)
    return this
  }

  /** Serves POST requests of `path` with `handler` (which reads the body itself): the run's controls. */
  post(path: string, handler: RouteHandler): this {
    this.#posts.set(path, handler)
    return this
  }

  /** Answers `req` if a route has its path (true), else leaves it to the caller (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = requestTarget(req.url)
    if (url === undefined) {
      this.#log('warn', `Refused a malformed HTTP request from ${req.socket.remoteAddress}: its target is not a path`)
      sendText(res, 400, 'Malformed request target: expected a path such as /status\n')
      return true
    }
    const get = this.#routes.get(url.pathname)
    const post = this.#posts.get(url.pathname)
    if (get === undefined && post === undefined) return false
    const handler = req.method === 'GET' || req.method === 'HEAD' ? get : req.method === 'POST' ? post : undefined
    if (handler === undefined) {
      const allow = get !== undefined ? 'GET, HEAD' : 'POST'
      sendText(res, 405, `${req.method} is not allowed on ${url.pathname}; use ${get !== undefined ? 'GET' : 'POST'}\n`, { allow })
      return true
    }
    if (this.#token !== undefined && !this.#open.has(url.pathname) && !tokenMatches(this.#token, requestToken(req, url))) {
      this.#log('warn', `Refused ${req.method} ${url.pathname} from ${req.socket.remoteAddress}: no valid token`)
      sendText(res, 401, "This run's figures need its token: send Authorization: Bearer <token> or add ?token=<token>\n", {
        'www-authenticate': 'Bearer realm="taskmaster"',
      })
      return true
    }
    this.#answer(handler, req, res, url)
    return true
  }

  #answer(handler: RouteHandler, req: IncomingMessage, res: ServerResponse, url: URL): void {
    const failed = (error: unknown): void => failRequest(req, res, error, this.#log)
    try {
      const done = handler(req, res, url)
      if (done instanceof Promise) done.catch(failed)
    } catch (error) {
      failed(error)
    }
  }
}

/** The token a request presents: the `Authorization: Bearer` header first, else `?token=`. */
function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    return match?.[1]
  }
  return url.searchParams.get('token') ?? undefined
}
