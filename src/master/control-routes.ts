import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Bounds } from '../bounds.js'
import { rangeWords, withinBounds } from '../bounds.js'
import { MASTER_OPTIONS } from '../option-specs.js'
import type { ControlSource, ControlsFigures } from './controls.js'
import type { HttpRouter } from './http.js'
import { sendJson, sendText } from './http.js'

/** Largest body a control request may have: `{"value": 123.5}` is a few bytes. */
const MAX_BODY = 4096

/** What the control endpoints act on (the run). Each setter returns what changed in words, or undefined. */
export interface ControlTarget {
  controls(): ControlsFigures
  setPaused(paused: boolean, source: ControlSource): string | undefined
  setRate(rate: number | null, source: ControlSource): string | undefined
  setMaxInFlight(max: number | null, source: ControlSource): string | undefined
  /** A graceful stop, as on SIGINT (a second one stops at once); returns what it does in words. */
  stop(source: ControlSource): string
}

/** The answer of every control endpoint: what changed, in words, and the controls after it. */
export interface ControlAnswer {
  changed: string
  controls: ControlsFigures
}

/**
 * The control endpoints of the master's port, token-protected like `GET /status`:
 * `POST /pause`, `/resume`, `/stop` (no body needed) and `POST /rate`, `/max-in-flight`
 * with `{"value": <number> | null}` (null: no limit). Each answers a {@link ControlAnswer};
 * a bad body gets 400 and a one-line reason.
 */
export function addControlRoutes(router: HttpRouter, target: ControlTarget): HttpRouter {
  const source = (req: IncomingMessage): ControlSource => ({ kind: 'http', address: req.socket.remoteAddress ?? 'unknown' })
  const answer = (req: IncomingMessage, res: ServerResponse, changed: string | undefined, unchanged: string): void => {
    const body: ControlAnswer = { changed: changed ?? unchanged, controls: target.controls() }
    sendJson(req, res, JSON.stringify(body))
  }
  return router
    .post('/pause', (req, res) => drain(req, () => answer(req, res, target.setPaused(true, source(req)), 'nothing: already paused')))
    .post('/resume', (req, res) => drain(req, () => answer(req, res, target.setPaused(false, source(req)), 'nothing: not paused')))
    .post('/stop', (req, res) => drain(req, () => answer(req, res, target.stop(source(req)), '')))
    .post('/rate', (req, res) =>
      readValue(req, res, '/rate', MASTER_OPTIONS.rate.bounds, (value) => answer(req, res, target.setRate(value, source(req)), `nothing: the rate is already ${value === null ? 'off' : value}`)),
    )
    .post('/max-in-flight', (req, res) =>
      readValue(req, res, '/max-in-flight', MASTER_OPTIONS.maxInFlight.bounds, (value) => answer(req, res, target.setMaxInFlight(value, source(req)), `nothing: max in flight is already ${value === null ? 'off' : value}`)),
    )
}

/** Reads (and drops) the body, then acts: the answer goes after the request is whole. */
function drain(req: IncomingMessage, then: () => void): void {
  req.resume()
  req.on('end', then)
}

/**
 * Reads `{"value": <number> | null}`: a number within the option's bounds (of
 * MASTER_OPTIONS, as every setter checks), or null (no limit). Anything else is a 400 that
 * names the field and says what was expected.
 */
function readValue(req: IncomingMessage, res: ServerResponse, path: string, limit: Bounds, then: (value: number | null) => void): void {
  let body = ''
  let tooBig = false
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => {
    if (tooBig) return
    body += chunk
    if (body.length > MAX_BODY) tooBig = true
  })
  req.on('end', () => {
    const bad = (why: string): void => sendText(res, 400, `POST ${path} takes a JSON body {"value": <${rangeWords(limit)}> or null for no limit}; ${why}\n`)
    if (tooBig) return bad(`the body is over ${MAX_BODY} bytes`)
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      return bad(body.trim() === '' ? 'the body is empty' : 'the body is not JSON')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('value' in parsed)) return bad('it has no "value"')
    const value = parsed.value
    if (value === null) return then(null)
    if (!withinBounds(limit, value)) return bad(`got ${JSON.stringify(value)}`)
    then(value)
  })
}
