import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from './commander.js'
import { OptionError } from '../errors.js'
import { MASTER_DEFAULTS } from '../options.js'

/** `host:port`, `[v6]:port`, `host` or `port` into parts (missing parts from the defaults). */
export function hostPort(
  value: string,
  defaults = { host: MASTER_DEFAULTS.host, port: MASTER_DEFAULTS.port },
): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(value)
  let host: string
  let port: string | undefined
  if (v6) [, host, port] = v6 as unknown as [string, string, string | undefined]
  else if (/^\d+$/.test(value)) [host, port] = ['', value]
  else if ((value.match(/:/g) ?? []).length > 1)
    [host, port] = [value, undefined] // a bare IPv6 address
  else {
    const colon = value.lastIndexOf(':')
    ;[host, port] = colon >= 0 ? [value.slice(0, colon), value.slice(colon + 1)] : [value, undefined]
  }
  const p = port === undefined || port === '' ? defaults.port : Number(port)
  if (!Number.isInteger(p) || p < 0 || p > 65535)
    throw new InvalidArgumentError(`must be host:port with a port from 0 to 65535, got '${value}'`)
  return { host: host || defaults.host, port: p }
}

/** Commander parser for `--host` on the master. */
export function listenAddress(value: string): { host: string; port: number } {
  return hostPort(value)
}

/** `name=value` words into an object; anything else is an error naming the word. */
export function nameValueArgs(words: string[]): Record<string, string> {
  const args: Record<string, string> = {}
  for (const word of words) {
    const eq = word.indexOf('=')
    if (eq <= 0) throw new OptionError(`Arguments after the module must be name=value, got '${word}'`)
    args[word.slice(0, eq)] = word.slice(eq + 1)
  }
  return args
}

/** The CA certificate(s) of `--ca` (undefined without it); a file that cannot be read is a usage error naming it. */
export function readCa(path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined
  try {
    return readFileSync(path)
  } catch (error) {
    throw new OptionError(`Cannot read --ca '${path}': ${(error as Error).message}`)
  }
}
