import type { RunSurface, RunView } from '../engine/index.js'
import { sendJson } from '../engine/index.js'
import { addControlRoutes } from './control-routes.js'
import { StatusEvents } from './events.js'
import { RunMetrics, metricsRoute } from './metrics.js'
import { pageRoute } from './page.js'
import { HttpRouter } from './router.js'

/**
 * The HTTP surface of a run, built from its view: `/status`, `/metrics`, `/events`,
 * `/history`, the page and the control endpoints, behind the run's token (see router.ts). The status
 * document is serialized once however often it is asked for.
 */
export function httpSurface(view: RunView, token: string | undefined): RunSurface {
  let json: { status: ReturnType<RunView['status']>; text: string } | undefined
  const statusJson = (): string => {
    const status = view.status()
    if (json?.status !== status) json = { status, text: JSON.stringify(status) }
    return json.text
  }
  const watchers = new StatusEvents(statusJson, { keep: (socket) => view.keep(socket) })
  const routes = new HttpRouter(token, (level, message) => view.log(level, message))
    .get('/status', (req, res) => sendJson(req, res, statusJson()))
    .get('/metrics', metricsRoute(new RunMetrics(() => view.status())))
    .get('/events', watchers.route())
    .get('/history', (req, res) => sendJson(req, res, JSON.stringify(view.history())))
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
