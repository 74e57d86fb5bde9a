import { cap, isError, messageOf, read, textOf } from '../user-code.js'
import { userStack } from '../user-stack.js'
import type { Failure } from '../protocol/messages.js'

/**
 * Longest failure message sent, in UTF-16 code units: a failure always fits in a frame,
 * and a failed-jobs log line stays readable.
 */
export const MAX_MESSAGE = 4 * 1024

/** Longest stack sent, in UTF-16 code units. */
export const MAX_STACK = 16 * 1024

/**
 * The failure of job `seq` whose handler threw `error`. Total: whatever was thrown (a
 * Proxy that throws on every trap, an object whose `toString` throws, an Error whose
 * `message` getter throws, a Symbol), it never throws and returns strings of bounded
 * length, so the master always gets a well-formed `fail` frame and the slave goes on.
 */
export function failureOf(seq: number, error: unknown): Failure {
  if (isError(error)) {
    const stack = read(error, 'stack')
    const failure: Failure = { seq, message: cap(messageOf(error), MAX_MESSAGE) }
    if (typeof stack === 'string') failure.stack = cap(userStack(stack), MAX_STACK)
    return failure
  }
  return { seq, message: cap(`Handler threw a non-Error value: ${textOf(error)}`, MAX_MESSAGE) }
}
