import { describe, expect, it } from 'vitest'
import { RunLifecycle } from '../../../../src/master/engine/lifecycle.js'
import type { RunPhase } from '../../../../src/master/engine/lifecycle.js'

/** A lifecycle brought to `phase` through its own transitions. */
function at(phase: RunPhase): RunLifecycle {
  const life = new RunLifecycle()
  if (phase === 'ready') return life
  life.listening()
  if (phase === 'running') return life
  life.stop()
  if (phase === 'draining') return life
  life.stop()
  return life
}

describe('RunLifecycle', () => {
  it('starts ready: not live, no error', () => {
    const life = new RunLifecycle()
    expect(life.phase).toBe('ready')
    expect(life.live).toBe(false)
    expect(life.error).toBeUndefined()
  })

  it('is live while running or draining, not before or after', () => {
    expect([at('ready'), at('running'), at('draining'), at('finished')].map((life) => [life.phase, life.live])).toEqual([
      ['ready', false],
      ['running', true],
      ['draining', true],
      ['finished', false],
    ])
  })

  describe('listening', () => {
    it('runs a ready run; no stop was asked', () => {
      const life = new RunLifecycle()
      expect(life.listening()).toBe(false)
      expect(life.phase).toBe('running')
    })

    it('says a stop asked before listening must now be carried out (once, however often it was asked)', () => {
      const life = new RunLifecycle()
      expect(life.stop()).toBe('deferred')
      expect(life.stop()).toBe('deferred')
      expect(life.phase).toBe('ready')
      expect(life.listening()).toBe(true)
      expect(life.phase).toBe('running')
      // The deferred stop is a graceful one: the run drains.
      expect(life.stop()).toBe('drain')
    })

    it('changes nothing once the run listened', () => {
      for (const phase of ['running', 'draining', 'finished'] as const) {
        const life = at(phase)
        expect(life.listening()).toBe(false)
        expect(life.phase).toBe(phase)
      }
    })
  })

  describe('stop', () => {
    it('is deferred before listening, drains a running run, ends a draining one at once, then does nothing', () => {
      const life = new RunLifecycle()
      expect(life.stop()).toBe('deferred')
      expect(life.phase).toBe('ready')
      life.listening()
      expect(life.stop()).toBe('drain')
      expect(life.phase).toBe('draining')
      expect(life.stop()).toBe('end-now')
      expect(life.phase).toBe('finished')
      expect(life.stop()).toBe('nothing')
      expect(life.phase).toBe('finished')
    })
  })

  describe('settle', () => {
    it('ends a running run complete once every job is finished, whatever is in flight (none, then)', () => {
      const life = at('running')
      expect(life.settle(false, 0)).toBeUndefined()
      expect(life.phase).toBe('running')
      expect(life.settle(true, 0)).toBe('complete')
      expect(life.phase).toBe('finished')
    })

    it('ends a draining run stopped once nothing is in flight, finished or not', () => {
      const life = at('draining')
      expect(life.settle(false, 3)).toBeUndefined()
      expect(life.settle(true, 3)).toBeUndefined()
      expect(life.phase).toBe('draining')
      expect(life.settle(false, 0)).toBe('stopped')
      expect(life.phase).toBe('finished')
    })

    it('ends nothing before listening or after the end', () => {
      for (const phase of ['ready', 'finished'] as const) {
        const life = at(phase)
        expect(life.settle(true, 0)).toBeUndefined()
        expect(life.phase).toBe(phase)
      }
    })

    it('ends a run once', () => {
      const life = at('running')
      expect(life.settle(true, 0)).toBe('complete')
      expect(life.settle(true, 0)).toBeUndefined()
      expect(life.stop()).toBe('nothing')
    })
  })

  describe('abort', () => {
    const first = new Error('first')
    const second = new Error('second')

    it('drains a running run on the first error, and keeps it', () => {
      const life = at('running')
      expect(life.abort(first)).toBe('drain')
      expect(life.phase).toBe('draining')
      expect(life.error).toBe(first)
    })

    it('settles a draining run on the first error (it ends if nothing is in flight)', () => {
      const life = at('draining')
      expect(life.abort(first)).toBe('settle')
      expect(life.phase).toBe('draining')
      expect(life.error).toBe(first)
    })

    it('only keeps the first error before listening or after the end', () => {
      for (const phase of ['ready', 'finished'] as const) {
        const life = at(phase)
        expect(life.abort(first)).toBe('kept')
        expect(life.phase).toBe(phase)
        expect(life.error).toBe(first)
      }
    })

    it('ends a draining run at once on a later error, and keeps the first', () => {
      const life = at('running')
      life.abort(first)
      expect(life.abort(second)).toBe('end-now')
      expect(life.phase).toBe('finished')
      expect(life.error).toBe(first)
    })

    it('does nothing on a later error otherwise, and keeps the first', () => {
      const ready = at('ready')
      ready.abort(first)
      expect(ready.abort(second)).toBe('nothing')
      expect(ready.phase).toBe('ready')
      expect(ready.error).toBe(first)
      const finished = at('finished')
      finished.abort(first)
      expect(finished.abort(second)).toBe('nothing')
      expect(finished.error).toBe(first)
    })

    it('keeps an Error whatever was thrown, described in one line', () => {
      const life = at('running')
      life.abort('disk full\n    at line 2')
      expect(life.error).toBeInstanceOf(Error)
      expect(life.error?.message).toBe('disk full')
      const odd = at('running')
      odd.abort(undefined)
      expect(odd.error).toBeInstanceOf(Error)
    })
  })
})
