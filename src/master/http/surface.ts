import type { RunSurface, RunView } from '../engine/index.js'
import { sendJson } from '../engine/index.js'
import { addControlRoutes } from './control-routes.js'
import { StatusEvents } from './events.js'
import { RunMetrics, metricsRoute } from './metrics.js'
import { pageRoute } from './page.js'
import { HttpRouter } from './router.js'

/**
 * How old the history `GET /history` answers may be: it is made again at most this often
 * (at its largest, a hundred slaves over a long run, it takes tens of milliseconds to make
 * and is a megabyte or two), so clients asking it again and again cost the run little.
 */
export const HISTORY_MAX_AGE_MS = 5000

/**
 * The HTTP surface of a run, built from its view: `/status`, `/metrics`, `/events`,
 * `/history`, the page and the control endpoints, behind the run's token (see router.ts). The status
 * document is serialized once however often it is asked for, the history at most every
 * {@link HISTORY_MAX_AGE_MS}: its bytes are one Buffer that every answer shares (many slow
 * readers hold no copy each).
 */
export function httpSurface(view: RunView, token: string | undefined): RunSurface {
  let json: { status: ReturnType<RunView['status']>; text: string } | undefined
  const statusJson = (): string => {
    const status = view.status()
    if (json?.status !== status) json = { status, text: JSON.stringify(status) }
    return json.text
  }
  let history: { at: number; bytes: Buffer } | undefined
  const historyJson = (): Buffer => {
    const now = Date.now()
    if (history === undefined || now - history.at >= HISTORY_MAX_AGE_MS)
      history = { at: now, bytes: Buffer.from(JSON.stringify(view.history())) }
    return history.bytes
  }
  const watchers = new StatusEvents(statusJson, { keep: (socket) => view.keep(socket) })
  const routes = new HttpRouter(token, (level, message) => view.log(level, message))
    .get('/status', (req, res) => sendJson(req, res, statusJson()))
    .get('/metrics', metricsRoute(new RunMetrics(() => view.status())))
    .get('/events', watchers.route())
    .get('/history', (req, res) => sendJson(req, res, historyJson()))
    .get('/', pageRoute(), 'open')
  addControlRoutes(routes, {
    controls: () => view.controls,
    setPaused: (paused, source) => view.setPaused(paused, source),
    setRate: (rate, source) => view.setRate(rate, source),
    setMaxInFlight: (max, source) => view.setMaxInFlight(max, source),
    stop: (source) => view.stop(source),
  })
  return { routes, published: () => watchers.publish(), closing: () => watchers.close() }
}
