import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'
import { OptionError } from '../errors.js'
import { MASTER_DEFAULTS, OPTION_LIMITS, limitRange, withinLimit } from '../options.js'
import type { ControlLimit } from '../options.js'

/** Commander parser for an integer from `min` to `max` (the library's limit, OPTION_LIMITS). */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}, got '${value}'`)
    if (n > max) throw new InvalidArgumentError(`must be at most ${max}, got '${value}'`)
    return n
  }
}

/**
 * Commander parser for a control's value within its bounds (CONTROL_LIMITS: --rate takes
 * fractions, 0.5 is a job every two seconds); with `off`, the word `off` too, as null.
 */
export function limit(bounds: ControlLimit): (value: string) => number
export function limit(bounds: ControlLimit, off: 'off'): (value: string) => number | null
export function limit(bounds: ControlLimit, off?: 'off'): (value: string) => number | null {
  return (value) => {
    if (off !== undefined && value === off) return null
    const n = Number(value)
    if (value.trim() === '' || !withinLimit(bounds, n)) throw new InvalidArgumentError(`must be ${limitRange(bounds)}${off === undefined ? '' : ` or ${off}`}, got '${value}'`)
    return n
  }
}

/** Commander parser for a number of seconds > 0 (fractions allowed), at most what a timer takes (OPTION_LIMITS.seconds). */
export function positiveSeconds(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a number of seconds > 0, got '${value}'`)
  if (n > OPTION_LIMITS.seconds) throw new InvalidArgumentError(`must be at most ${OPTION_LIMITS.seconds} seconds, got '${value}'`)
  return n
}

/** Commander parser for a number of seconds >= 0, at most what a timer takes (OPTION_LIMITS.seconds). */
export function seconds(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`must be a number of seconds >= 0, got '${value}'`)
  if (n > OPTION_LIMITS.seconds) throw new InvalidArgumentError(`must be at most ${OPTION_LIMITS.seconds} seconds, got '${value}'`)
  return n
}

/** `host:port`, `[v6]:port`, `host` or `port` into parts (missing parts from the defaults). */
export function hostPort(value: string, defaults = { host: MASTER_DEFAULTS.host, port: MASTER_DEFAULTS.port }): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(value)
  let host: string
  let port: string | undefined
  if (v6) [, host, port] = v6 as unknown as [string, string, string | undefined]
  else if (/^\d+$/.test(value)) [host, port] = ['', value]
  else if ((value.match(/:/g) ?? []).length > 1) [host, port] = [value, undefined] // a bare IPv6 address
  else {
    const colon = value.lastIndexOf(':')
    ;[host, port] = colon >= 0 ? [value.slice(0, colon), value.slice(colon + 1)] : [value, undefined]
  }
  const p = port === undefined || port === '' ? defaults.port : Number(port)
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new InvalidArgumentError(`must be host:port with a port from 0 to 65535, got '${value}'`)
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
