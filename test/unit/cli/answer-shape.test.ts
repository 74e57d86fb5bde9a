import { describe, expect, it } from 'vitest'
import { isControlAnswer } from '../../../src/cli/answer-shape.js'

const controls = { paused: true, rate: null, maxInFlight: 4, throttled: null, throttle: null }

describe("a control endpoint's answer as tm-ctl reads it", () => {
  it('has what changed in words and the controls; the change as a value, null when nothing changed, or none from an older master', () => {
    expect(isControlAnswer({ changed: 'paused', change: { kind: 'paused' }, controls })).toBe(true)
    expect(isControlAnswer({ changed: 'nothing: already paused', change: null, controls })).toBe(true)
    expect(isControlAnswer({ changed: 'paused', controls })).toBe(true)
  })

  it('is refused with a change that is not one, or without the words or the controls', () => {
    expect(isControlAnswer({ changed: 'paused', change: 'paused', controls })).toBe(false)
    expect(isControlAnswer({ changed: 'paused', change: { kind: 5 }, controls })).toBe(false)
    expect(isControlAnswer({ change: { kind: 'paused' }, controls })).toBe(false)
    expect(isControlAnswer({ changed: 'paused', change: { kind: 'paused' } })).toBe(false)
  })
})
