import type { IncomingHttpHeaders } from 'node:http'

/** What the guard needs to know of the master. */
export interface GuardContext {
  /** The run has a token: every route but the page asks for it, and no web page knows it. */
  hasToken: boolean
  /** The master listens on a loopback address. */
  loopback: boolean
}

/**
 * Why a request must be refused because a web page the user opened may have sent it
 * (undefined: it may go on). A master with a token needs nothing more: no page knows the
 * token. A master without one trusts whoever reaches it, and a browser reaches it for any
 * page: so it takes requests that act (POST, a WebSocket upgrade) only from its own origin
 * or from clients that are not browsers (tm-ctl, curl: no `Origin`, no `Sec-Fetch-Site`),
 * and, listening on loopback, answers only loopback `Host` names, so a DNS name an attacker
 * rebinds to 127.0.0.1 reads nothing. A master listening beyond loopback always has a token,
 * and its slaves connect by any name or address.
 */
export function browserRefusal(headers: IncomingHttpHeaders, acts: boolean, context: GuardContext): string | undefined {
  if (context.hasToken) return undefined
  if (context.loopback && !loopbackName(headers.host))
    return 'This master has no token: it answers only to loopback names (localhost, 127.0.0.1, [::1]); use one, or give the run a token'
  if (acts && crossOrigin(headers))
    return "This master has no token: it takes controls only from its own page or from clients that are not browsers (tm-ctl, curl), not from another site's page"
  return undefined
}

/**
 * True for a `Host` that only this machine answers to: localhost, 127.x.x.x or [::1], with
 * or without a port. No `Host` at all is no browser's request (browsers always send one).
 */
export function loopbackName(host: string | undefined): boolean {
  if (host === undefined) return true
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::\d{1,5})?$/.exec(host)
  if (match === null) return false
  const name = (match[1] ?? match[2]).toLowerCase()
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
}

/**
 * True when a browser says the request comes from another origin: `Sec-Fetch-Site` other
 * than `same-origin` or `none` (typed by the user), or an `Origin` (sent on every POST and
 * WebSocket by browsers) whose host is not the request's `Host`. Neither header: no browser.
 */
export function crossOrigin(headers: IncomingHttpHeaders): boolean {
  const site = headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true
  const origin = headers.origin
  if (origin === undefined) return false
  try {
    const from = new URL(origin)
    // The Host read as the origin's scheme reads it, so a default port compares equal.
    return headers.host === undefined || from.host !== new URL(`${from.protocol}//${headers.host}`).host
  } catch {
    // `null` (a sandboxed or file page) or no URL at all.
    return true
  }
}
