import { describe, expect, it } from 'vitest'
import { MAX_MESSAGE, MAX_STACK, failureOf } from '../../../src/slave/failure.js'

/** A Proxy that throws on every trap. */
function hostileProxy(target: object = {}): object {
  return new Proxy(target, {
    get: () => {
      throw new Error('get')
    },
    getPrototypeOf: () => {
      throw new Error('getPrototypeOf')
    },
    has: () => {
      throw new Error('has')
    },
    ownKeys: () => {
      throw new Error('ownKeys')
    },
    getOwnPropertyDescriptor: () => {
      throw new Error('getOwnPropertyDescriptor')
    },
  })
}

/** Asserts the shape a `fail` frame needs: seq, a string message, a string stack or none. */
function expectWellFormed(failure: ReturnType<typeof failureOf>): void {
  expect(typeof failure.message).toBe('string')
  expect(failure.stack === undefined || typeof failure.stack === 'string').toBe(true)
}

describe('failureOf', () => {
  it('keeps an Error its message and stack', () => {
    const error = new Error('boom')
    expect(failureOf(3, error)).toEqual({ seq: 3, message: 'boom', stack: error.stack })
  })

  it('uses the name of an Error without a message', () => {
    const error = new TypeError()
    expect(failureOf(3, error)).toEqual({ seq: 3, message: 'TypeError', stack: error.stack })
  })

  it('turns a message that is not a string into text (message = 500)', () => {
    const error = new Error('placeholder')
    ;(error as unknown as { message: number }).message = 500
    expect(failureOf(3, error)).toEqual({ seq: 3, message: '500', stack: error.stack })
  })

  it('drops a stack that is not a string', () => {
    const error = new Error('boom')
    ;(error as unknown as { stack: object }).stack = { frames: [] }
    expect(failureOf(3, error)).toEqual({ seq: 3, message: 'boom' })
  })

  it('survives an Error whose message getter throws', () => {
    const error = new Error('placeholder')
    // V8 formats the stack lazily, from the message: read it before the getter throws.
    const stack = error.stack
    Object.defineProperty(error, 'message', {
      get() {
        throw new Error('no')
      },
    })
    expect(failureOf(3, error)).toEqual({ seq: 3, message: 'Error whose message cannot be read', stack })
  })

  it('survives an Error subclass whose name getter throws', () => {
    class Odd extends Error {
      override get name(): string {
        throw new Error('no')
      }
    }
    const empty = new Odd()
    expect(failureOf(3, empty).message).toBe('Error')
    expect(failureOf(3, new Odd('kept')).message).toBe('kept')
  })

  it('survives an Error whose message and stack getters both throw', () => {
    const error = new Error('placeholder')
    for (const field of ['stack', 'name', 'message']) {
      Object.defineProperty(error, field, {
        get() {
          throw new Error('no')
        },
      })
    }
    expect(failureOf(3, error)).toEqual({ seq: 3, message: 'Error whose message cannot be read' })
  })

  it('describes non-Error values', () => {
    expect(failureOf(1, 'text').message).toBe('Handler threw a non-Error value: text')
    expect(failureOf(1, 42).message).toBe('Handler threw a non-Error value: 42')
    expect(failureOf(1, undefined).message).toBe('Handler threw a non-Error value: undefined')
    expect(failureOf(1, null).message).toBe('Handler threw a non-Error value: null')
    expect(failureOf(1, Symbol('odd')).message).toBe('Handler threw a non-Error value: Symbol(odd)')
    expect(failureOf(1, 10n).message).toBe('Handler threw a non-Error value: 10')
    expect(failureOf(1, { a: 1 })).toEqual({ seq: 1, message: 'Handler threw a non-Error value: [object Object]' })
  })

  it('survives Object.create(null) and an object whose toString throws', () => {
    expect(failureOf(1, Object.create(null))).toEqual({ seq: 1, message: 'Handler threw a non-Error value: [object Object]' })
    const bad = {
      toString(): string {
        throw new Error('no')
      },
    }
    expect(failureOf(1, bad)).toEqual({ seq: 1, message: 'Handler threw a non-Error value: [object Object]' })
  })

  it('survives a Proxy that throws on every trap, plain or around an Error', () => {
    expect(failureOf(1, hostileProxy())).toEqual({ seq: 1, message: 'Handler threw a non-Error value: a value that cannot be printed' })
    expect(failureOf(1, hostileProxy(new Error('inside')))).toEqual({
      seq: 1,
      message: 'Handler threw a non-Error value: a value that cannot be printed',
    })
  })

  it('caps a huge message and stack, so a failure always fits in a frame', () => {
    const error = new Error('x'.repeat(10 * 1024 * 1024))
    const failure = failureOf(1, error)
    expect(failure.message).toBe(`${'x'.repeat(MAX_MESSAGE)}… (${10 * 1024 * 1024 - MAX_MESSAGE} more characters)`)
    expect(failure.stack!.startsWith(`Error: ${'x'.repeat(MAX_STACK - 7)}… (`)).toBe(true)
    expect(failure.stack!.length).toBeLessThan(MAX_STACK + 40)
    expect(failureOf(1, 'y'.repeat(MAX_MESSAGE * 2)).message.length).toBeLessThan(MAX_MESSAGE + 40)
  })

  it('does not cut a surrogate pair in half', () => {
    const message = `${'a'.repeat(MAX_MESSAGE - 1)}😀tail`
    expect(failureOf(1, new Error(message)).message).toBe(`${'a'.repeat(MAX_MESSAGE - 1)}… (6 more characters)`)
  })

  it('always returns a well-formed failure', () => {
    const values: unknown[] = [
      new Error('e'),
      Object.create(null),
      hostileProxy(),
      Symbol(),
      () => 1,
      [1, 2],
      new Date(Number.NaN),
      Promise.resolve(),
    ]
    for (const value of values) expectWellFormed(failureOf(9, value))
  })
})
