import { describe, expect, it } from 'vitest'
import type { ThrottleVerdict } from '../../../../src/master/engine/throttle.js'
import { Throttle, verdictOf } from '../../../../src/master/engine/throttle.js'

describe('verdictOf', () => {
  it('lets jobs go on false, undefined and null; holds on true, a reason, or anything else', () => {
    expect([false, undefined, null].map(verdictOf)).toEqual([null, null, null])
    expect(verdictOf(true)).toBe('throttle check returned true')
    expect(verdictOf('replica lag 2 s')).toBe('replica lag 2 s')
    expect(verdictOf('')).toBe('throttle check returned an empty reason')
    expect(verdictOf(3)).toBe('throttle check returned a number; it must return false, true or a reason')
    expect(verdictOf({})).toBe('throttle check returned an object; it must return false, true or a reason')
  })
})

/** Runs a Throttle until `count` verdicts came; returns them. */
function verdicts(
  check: ConstructorParameters<typeof Throttle>[0],
  intervalMs: number,
  count: number,
): Promise<{ verdicts: ThrottleVerdict[]; throttle: Throttle }> {
  return new Promise((resolve) => {
    const seen: ThrottleVerdict[] = []
    const throttle: Throttle = new Throttle(check, { lag: '1' }, intervalMs, (verdict) => {
      seen.push(verdict)
      if (seen.length === count) {
        throttle.stop()
        resolve({ verdicts: seen, throttle })
      }
    })
    throttle.start()
  })
}

describe('Throttle', () => {
  it('calls the check with the run’s arguments, sync or async, and tells each answer', async () => {
    const answers: unknown[] = [false, Promise.resolve('lag 3 s'), true, Promise.resolve(undefined)]
    let i = 0
    const args: unknown[] = []
    const { verdicts: seen } = await verdicts((ctx) => (args.push(ctx.args), answers[i++]), 10, 4)
    expect(seen).toEqual([null, 'lag 3 s', 'throttle check returned true', null])
    expect(args).toEqual([{ lag: '1' }, { lag: '1' }, { lag: '1' }, { lag: '1' }])
  })

  it('holds with the error of a check that throws or rejects, and never lets it out', async () => {
    const checks = [
      () => {
        throw new Error('no connection\nat line 2')
      },
      () => Promise.reject(new Error('timeout')),
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a user's check may reject with anything
      () => Promise.reject('plain'),
    ]
    let i = 0
    const { verdicts: seen } = await verdicts(() => checks[i++](), 10, 3)
    // One line each, with the check's file and line when what it threw has a stack.
    const at = String.raw` \(at test/unit/master/engine/throttle\.test\.ts:\d+\)`
    expect(seen).toEqual([
      expect.stringMatching(new RegExp(`^throttle check threw: no connection${at}$`)),
      expect.stringMatching(new RegExp(`^throttle check threw: timeout${at}$`)),
      'throttle check threw: plain',
    ])
  })

  it('gives up on a check past its interval (aborting its signal, ignoring its late answer), and never runs two at once', async () => {
    let running = 0
    let most = 0
    const signals: AbortSignal[] = []
    let calls = 0
    // The first check never answers; the second answers late (after 1.5 intervals); the third at once.
    const { verdicts: seen } = await verdicts(
      ({ signal }) => {
        signals.push(signal)
        const call = ++calls
        if (call === 1) return new Promise(() => {})
        running++
        most = Math.max(most, running)
        const answer = (value: unknown) => () => {
          running--
          return value
        }
        if (call === 2) return new Promise((resolve) => setTimeout(resolve, 60)).then(answer(false))
        return Promise.resolve().then(answer('lag 9 s'))
      },
      40,
      3,
    )
    expect(seen).toEqual(['throttle check did not answer within 0.04 s', 'throttle check did not answer within 0.04 s', 'lag 9 s'])
    expect(signals.map((s) => s.aborted)).toEqual([true, true, true])
    expect((signals[0].reason as Error).message).toBe('throttle check did not answer within 0.04 s')
    expect(most).toBe(1)
  })
})
