import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Bounds } from '../../bounds.js'
import { rangeWords, withinBounds } from '../../bounds.js'
import { MASTER_OPTIONS } from '../../option-specs.js'
import type { ControlSource, ControlsFigures, ControlUpdate } from '../engine/index.js'
import type { HttpRouter, RouteHandler } from './router.js'
import { describeChange, sendJson, sendText } from '../engine/index.js'

/** Largest body a control request may have: `{"value": 123.5}` is a few bytes. */
const MAX_BODY = 4096

/** What the control endpoints act on (the run). Each setter returns what changed, or undefined. */
export interface ControlTarget {
  controls(): ControlsFigures
  setPaused(paused: boolean, source: ControlSource): ControlUpdate | undefined
  setRate(rate: number | null, source: ControlSource): ControlUpdate | undefined
  setMaxInFlight(max: number | null, source: ControlSource): ControlUpdate | undefined
  /** A graceful stop, as on SIGINT (a second one stops at once); returns what it does. */
  stop(source: ControlSource): ControlUpdate
}

/** The answer of every control endpoint: what changed, in words and as a value, and the controls after it. */
export interface ControlAnswer {
  /** What changed, in words; `nothing: ...` when nothing did. */
  changed: string
  /** What changed; null when nothing did. Absent from the answers of masters older than this field. */
  change?: ControlUpdate | null
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
  const answer = (req: IncomingMessage, res: ServerResponse, change: ControlUpdate | undefined, unchanged: string): void => {
    const body: ControlAnswer = {
      changed: change === undefined ? unchanged : describeChange(change),
      change: change ?? null,
      controls: target.controls(),
    }
    sendJson(req, res, JSON.stringify(body))
  }
  // The answer goes once the request is whole: its body is read (and dropped) first.
  const action =
    (act: (source: ControlSource) => ControlUpdate | undefined, unchanged: string): RouteHandler =>
    async (req, res) => {
      await readBody(req, MAX_BODY)
      answer(req, res, act(source(req)), unchanged)
    }
  const setting =
    (
      path: string,
      limit: Bounds,
      set: (value: number | null, source: ControlSource) => ControlUpdate | undefined,
      name: string,
    ): RouteHandler =>
    async (req, res) => {
      const read = readValue(await readBody(req, MAX_BODY), limit)
      if ('why' in read)
        return sendText(res, 400, `POST ${path} takes a JSON body {"value": <${rangeWords(limit)}> or null for no limit}; ${read.why}\n`)
      answer(req, res, set(read.value, source(req)), `nothing: ${name} is already ${read.value === null ? 'off' : read.value}`)
    }
  return router
    .post(
      '/pause',
      action((from) => target.setPaused(true, from), 'nothing: already paused'),
    )
    .post(
      '/resume',
      action((from) => target.setPaused(false, from), 'nothing: not paused'),
    )
    .post(
      '/stop',
      action((from) => target.stop(from), ''),
    )
    .post(
      '/rate',
      setting('/rate', MASTER_OPTIONS.rate.bounds, (value, from) => target.setRate(value, from), 'the rate'),
    )
    .post(
      '/max-in-flight',
      setting('/max-in-flight', MASTER_OPTIONS.maxInFlight.bounds, (value, from) => target.setMaxInFlight(value, from), 'max in flight'),
    )
}

/**
 * The body as text, or undefined when it is over `max` bytes (read to its end all the same,
 * so the answer follows the whole request). Rejects if the client goes away first.
 */
async function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= max) chunks.push(chunk)
  }
  return size > max ? undefined : Buffer.concat(chunks).toString('utf8')
}

/**
 * Reads `{"value": <number> | null}`: a number within the control's bounds (of
 * MASTER_OPTIONS, as every setter checks), or null (no limit); else why not, in words.
 */
function readValue(body: string | undefined, limit: Bounds): { value: number | null } | { why: string } {
  if (body === undefined) return { why: `the body is over ${MAX_BODY} bytes` }
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { why: body.trim() === '' ? 'the body is empty' : 'the body is not JSON' }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('value' in parsed)) return { why: 'it has no "value"' }
  const value = parsed.value
  if (value === null) return { value: null }
  if (!withinBounds(limit, value)) return { why: `got ${JSON.stringify(value)}` }
  return { value }
}
