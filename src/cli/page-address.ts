import { hostname } from 'node:os'
import type { MasterAddress } from '../master/engine/types.js'
import { isLoopback } from '../master/engine/token.js'

/** True for an address that means "every interface": a browser needs a name instead. */
const unspecified = (host: string): boolean => host === '0.0.0.0' || host === '::'

/** Where the page's line is printed. */
export interface PageLineContext {
  /** The master serves TLS. */
  tls: boolean
  /** The line goes to a terminal (a person's screen), not a log or a pipe. */
  terminal: boolean
  /** This machine's name, for a master listening on every interface. */
  machine?: string
}

/**
 * The start line that gives the web page's address. With a token, the link carries it
 * (`?token=`) only where it cannot leak: on a terminal (never into a log file, where the
 * master never writes a token), and on loopback or behind TLS (off loopback without TLS the
 * token would cross the network in clear text). Otherwise the line says how to add it.
 */
export function pageLine(address: MasterAddress, token: string | undefined, context: PageLineContext): string {
  const host = unspecified(address.host) ? (context.machine ?? hostname()) : address.host.includes(':') ? `[${address.host}]` : address.host
  const page = `${context.tls ? 'https' : 'http'}://${host}:${address.port}/`
  if (token === undefined) return `Status page: ${page}`
  if (!context.tls && !isLoopback(address.host))
    return `Status page: ${page} (add ?token=<the run's token>: a master listening beyond loopback without TLS never prints its token in a link)`
  if (!context.terminal)
    return `Status page: ${page} (add ?token=<the run's token>: the link holds the token only on a terminal, never in a log)`
  return `Status page: ${page}?token=${encodeURIComponent(token)}`
}
