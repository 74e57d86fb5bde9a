import { userStack } from './user-stack.js'
import type { Failure } from '../protocol/messages.js'

/**
 * Longest failure message sent, in UTF-16 code units: a failure always fits in a frame,
 * and a failed-jobs log line stays readable.
 */
export const MAX_MESSAGE = 4 * 1024

/** Longest stack sent, in UTF-16 code units. */
export const MAX_STACK = 16 * 1024

/** Said of a value that cannot be turned into text at all (a Proxy that throws on every trap). */
const UNPRINTABLE = 'a value that cannot be printed'

/**
 * The failure of job `seq` whose handler threw `error`. Total: whatever was thrown (a
 * Proxy that throws on every trap, an object whose `toString` throws, an Error whose
 * `message` getter throws, a Symbol), it never throws and returns strings of bounded
 * length, so the master always gets a well-formed `fail` frame and the slave goes on.
 */
export function failureOf(seq: number, error: unknown): Failure {
  if (isError(error)) {
    const stack = read(error, 'stack')
    const failure: Failure = { seq, message: cap(errorMessage(error), MAX_MESSAGE) }
    if (typeof stack === 'string') failure.stack = cap(userStack(stack), MAX_STACK)
    return failure
  }
  return { seq, message: cap(`Handler threw a non-Error value: ${describe(error)}`, MAX_MESSAGE) }
}

/** `instanceof Error`, false when asking throws (a Proxy whose getPrototypeOf trap throws). */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error
  } catch {
    return false
  }
}

/** `object[field]`, or undefined when reading it throws. */
function read(object: object, field: string): unknown {
  try {
    return (object as Record<string, unknown>)[field]
  } catch {
    return undefined
  }
}

/** The message of an Error: its `message` as text, else its `name`, else what it is. */
function errorMessage(error: Error): string {
  let message: unknown
  try {
    message = error.message
  } catch {
    const name = read(error, 'name')
    return `${typeof name === 'string' && name !== '' ? name : 'Error'} whose message cannot be read`
  }
  if (typeof message === 'string' && message !== '') return message
  // A message that is not a string (`error.message = 500`) is still what the user meant.
  if (message !== undefined && message !== null && message !== '') return describe(message)
  const name = read(error, 'name')
  return typeof name === 'string' && name !== '' ? name : 'Error'
}

/** `value` as text: String(value), else its [object Tag], else a fixed phrase; never throws. */
function describe(value: unknown): string {
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

/** `text` cut to `max` code units (not inside a surrogate pair), saying how much was cut. */
function cap(text: string, max: number): string {
  if (text.length <= max) return text
  let end = max
  const code = text.charCodeAt(end - 1)
  if (code >= 0xd800 && code <= 0xdbff) end--
  return `${text.slice(0, end)}… (${text.length - end} more characters)`
}
