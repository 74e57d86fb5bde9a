import { InvalidArgumentError } from 'commander'

/** How log lines are written: `text` for people, `json` for log collectors. */
export type LogFormat = 'text' | 'json'

/** Commander parser for `--log-format`. */
export function logFormat(value: string): LogFormat {
  if (value !== 'text' && value !== 'json') throw new InvalidArgumentError(`must be text or json, got '${value}'`)
  return value
}

/**
 * One log line in `json` format: `{ time, level, message, ...fields }` on one line (the
 * fields say what the line is about: the run's key, the slave's pid).
 */
export function jsonLogLine(level: string, message: string, fields: Record<string, unknown> = {}, now = new Date()): string {
  return JSON.stringify({ time: now.toISOString(), level, message, ...fields })
}

/**
 * A line a local slave (`--spawn`) wrote, as the master passes it on (`[slave n] <line>`),
 * in `json` format: the slave's own JSON object with `slave: n` added, or a line it wrote
 * as text (a crash, a handler's console output) wrapped as an `info` line.
 */
export function jsonLocalSlaveLine(line: string, now = new Date()): string {
  const match = /^\[slave (\d+)\] (.*)$/s.exec(line)
  const slave = match === null ? undefined : Number(match[1])
  const text = match === null ? line : match[2]
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as unknown
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return JSON.stringify({ ...parsed, slave })
    } catch {
      // Not a JSON line after all: wrapped below.
    }
  }
  return jsonLogLine('info', text, slave === undefined ? {} : { slave }, now)
}
