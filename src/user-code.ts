import { UserCodeError } from './errors.js'
import { userFrame } from './user-stack.js'

/**
 * The boundary between Taskmaster and the user's modules. A user's function may throw or
 * return anything at all: a Symbol, an object without a prototype, an Error whose
 * `message` is a number or whose getters throw, a Proxy that throws on every trap, a
 * 17 MB message. Everything here is total (never throws) and bounded, so what reaches a
 * log line, the status or a frame is one line of sane length, with the user's file and
 * line when the value carries a stack. Hot paths (a handler per job, `key` per job) keep
 * their own `try` around a direct call and use these only when something was thrown.
 */

/** Longest one-line account of what a user's function threw: a log line, not a dump. */
export const MAX_LINE = 500

/** Said of a value that cannot be turned into text at all (a Proxy that throws on every trap). */
const UNPRINTABLE = 'a value that cannot be printed'

/** `value instanceof Error`, false when asking throws (a Proxy whose getPrototypeOf trap throws). */
export function isError(value: unknown): value is Error {
  try {
    return value instanceof Error
  } catch {
    return false
  }
}

/** `object[field]`, or undefined when reading it throws. */
export function read(object: object, field: string): unknown {
  try {
    return (object as Record<string, unknown>)[field]
  } catch {
    return undefined
  }
}

/** `value` as text: String(value), else its [object Tag], else a fixed phrase; never throws. */
export function textOf(value: unknown): string {
  try {
    // String() of a Symbol works where a template literal throws.
    const text = String(value)
    if (typeof text === 'string') return text
  } catch {
    // An object without toString (Object.create(null)), or whose toString throws.
  }
  try {
    return Object.prototype.toString.call(value)
  } catch {
    return UNPRINTABLE
  }
}

/** The message of an Error: its `message` as text, else its `name`, else what it is; never throws. */
export function messageOf(error: Error): string {
  let message: unknown
  try {
    message = error.message
  } catch {
    const name = read(error, 'name')
    return `${typeof name === 'string' && name !== '' ? name : 'Error'} whose message cannot be read`
  }
  if (typeof message === 'string' && message !== '') return message
  // A message that is not a string (`error.message = 500`) is still what the user meant.
  if (message !== undefined && message !== null && message !== '') return textOf(message)
  const name = read(error, 'name')
  return typeof name === 'string' && name !== '' ? name : 'Error'
}

/** `text` cut to `max` code units (not inside a surrogate pair), saying how much was cut. */
export function cap(text: string, max: number): string {
  if (text.length <= max) return text
  let end = max
  const code = text.charCodeAt(end - 1)
  if (code >= 0xd800 && code <= 0xdbff) end--
  return `${text.slice(0, end)}… (${text.length - end} more characters)`
}

/** C0 and C1 control characters, DEL, and the line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g

/**
 * `text` as one line of at most `max` characters: its first line that is not blank (a
 * stack or a query's details follow on the next ones), control characters (terminal
 * escapes, tabs) as spaces. Only the start of a huge text is read.
 */
export function oneLine(text: string, max: number = MAX_LINE): string {
  const head = text.length > max * 4 ? text.slice(0, max * 4) : text
  const first = head.split(/\r\n|[\n\r\u2028\u2029]/).find((line) => line.trim() !== '') ?? ''
  const clean = first.replace(CONTROL, ' ').trim()
  if (clean.length <= max) return clean
  const code = clean.charCodeAt(max - 1)
  // Not inside a surrogate pair.
  return `${clean.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max)}…`
}

/** What kind of value `value` is, for a message: `null`, `undefined`, `an array`, `an object`, `a string`. */
export function typeName(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** What a user's function threw, in one line: an Error's message, else the value as text. Never throws. */
export function describeThrown(value: unknown): string {
  return oneLine(isError(value) ? messageOf(value) : textOf(value))
}

/** Where the user's code threw `value` (`jobs.mjs:12`), from its stack; undefined for a value without one. */
export function whereThrown(value: unknown): string | undefined {
  if (!isError(value)) return undefined
  const stack = read(value, 'stack')
  return typeof stack === 'string' ? userFrame(stack) : undefined
}

/** What a user's function threw and where, in one line: `no connection (at jobs.mjs:12)`. Never throws. */
export function thrownLine(value: unknown): string {
  const where = whereThrown(value)
  return `${describeThrown(value)}${where === undefined ? '' : ` (at ${where})`}`
}

/**
 * Calls user code that may hang where a hang would stall the run (`setup`, `teardown`,
 * `total`, `progress`): resolves with what it returned (awaited when a promise), rejects with a
 * {@link UserCodeError} of one line when it throws, rejects, or has not settled within
 * `ms` (its promise then runs on, ignored). `module` (the user's file, when known) is
 * named in the line of a call that did not finish, which has no stack to tell where.
 */
export function callUser<T>(call: () => T | PromiseLike<T>, ms: number, module?: string): Promise<Awaited<T>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new UserCodeError(`did not finish within ${ms / 1000} s${module === undefined ? '' : ` (${module})`}`, true)),
      ms,
    )
    const threw = (error: unknown): void => {
      clearTimeout(timer)
      reject(new UserCodeError(thrownLine(error), false, error))
    }
    let returned: T | PromiseLike<T>
    try {
      returned = call()
    } catch (error) {
      threw(error)
      return
    }
    // Promise.resolve reads `then` itself: a value whose `then` getter throws rejects, it does not throw.
    Promise.resolve(returned).then((value) => {
      clearTimeout(timer)
      resolve(value)
    }, threw)
  })
}

/**
 * Whether a user's function returned a promise (anything with a `then` method), without
 * throwing: reading `then` of a Proxy may throw, and a value that cannot be read is no promise.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false
  return typeof read(value, 'then') === 'function'
}
