import { InvalidArgumentError } from './commander.js'

/** How log lines are written: `text` for people, `json` for log collectors. */
export type LogFormat = 'text' | 'json'

/** C0 controls but tab, DEL, C1 controls (0x9b is a CSI on some terminals) and the Unicode line separators. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r' }

/**
 * `text` safe to print as (part of) one line: every control character is written escaped
 * as JSON escapes it (`\n`, `\r`, `\u001b`, `\u2028`), so a string from a user (a slave's
 * host name, a job's key, an error, a throttle's reason) can neither start a line of its own
 * nor move the cursor or colour a terminal. A JSON line stays the same JSON (JSON.stringify
 * leaves DEL, C1 and the line separators raw; escaped, they mean the same). Applied where
 * lines are written (the master's display, the slave's log, tm-ctl, a command's error
 * line), not where messages are made.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, escape)
}

/** The controls JSON.stringify leaves raw in strings. */
const RAW_IN_JSON = /[\x7f-\x9f\u2028\u2029]/g

/**
 * `value` as JSON, indented by `indent` (its line breaks are kept), safe to print like
 * {@link printable}'s lines: the controls JSON.stringify leaves raw are escaped too.
 */
export function printableJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(RAW_IN_JSON, escape)
}

function escape(c: string): string {
  return NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/** `lines` as text to print, each through {@link printable} and ended by a newline: one line each, whatever they hold. */
export function printableLines(lines: readonly string[]): string {
  return lines.map((line) => printable(line) + '\n').join('')
}

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
