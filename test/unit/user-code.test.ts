// The boundary with the user's modules: every callback, called as its real call site
// calls it, meets the same zoo of thrown values and a promise that never settles. Each
// outcome is one bounded line (or a well-formed failure for the handlers), and nothing
// escapes as an exception.
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { JobSourceError, SetupError } from '../../src/errors.js'
import { Ledger } from '../../src/master/engine/ledger.js'
import { readTotal } from '../../src/master/engine/total.js'
import { ProgressProbe } from '../../src/master/engine/progress-probe.js'
import type { MasterEvents } from '../../src/master/engine/types.js'
import { SkipSet } from '../../src/master/state/skip-set.js'
import { Source } from '../../src/master/engine/source.js'
import { Throttle } from '../../src/master/engine/throttle.js'
import type { ThrottleVerdict } from '../../src/master/engine/throttle.js'
import type { JobSource } from '../../src/options.js'
import { jobsMessage } from '../../src/protocol/jobs-batch.js'
import type { Failure } from '../../src/protocol/messages.js'
import { MAX_MESSAGE, MAX_STACK } from '../../src/slave/failure.js'
import { Lifecycle } from '../../src/slave/lifecycle.js'
import { emptyScope } from '../../src/slave/run-scope.js'
import { Runner } from '../../src/slave/runner.js'
import { MAX_LINE, describeThrown, oneLine, thrownLine } from '../../src/user-code.js'

/** A Proxy that throws on every trap. */
function hostileProxy(): object {
  const no = (): never => {
    throw new Error('trap')
  }
  return new Proxy(
    {},
    {
      get: no,
      getPrototypeOf: no,
      has: no,
      ownKeys: no,
      getOwnPropertyDescriptor: no,
      apply: no,
      construct: no,
      set: no,
      defineProperty: no,
      deleteProperty: no,
      isExtensible: no,
      preventExtensions: no,
      setPrototypeOf: no,
    },
  )
}

let huge: Error | undefined

/** The zoo: each makes a value to throw (the 17 MB one only when first thrown). */
const ZOO: [name: string, make: () => unknown][] = [
  ['a symbol', () => Symbol('odd')],
  ['a null-prototype object', () => Object.create(null) as object],
  [
    'an Error whose message is a number',
    () => {
      const error = new Error('placeholder')
      ;(error as unknown as { message: number }).message = 500
      return error
    },
  ],
  [
    'an Error whose message, stack and name getters throw',
    () => {
      const error = new Error('placeholder')
      // V8 formats the stack when it is first read (or redefined), from the message: before the getters.
      void error.stack
      for (const field of ['message', 'stack', 'name'])
        Object.defineProperty(error, field, {
          get() {
            throw new Error(`no ${field}`)
          },
        })
      return error
    },
  ],
  [
    'an object whose toString throws',
    () => ({
      toString() {
        throw new Error('no')
      },
    }),
  ],
  [
    'a revoked Proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {})
      revoke()
      return proxy
    },
  ],
  ['a Proxy that throws on every trap', hostileProxy],
  // One value, made when first thrown: its stack is read whole once per failure, slow on a busy machine.
  [
    'a 17 MB message over many lines, with terminal escapes',
    () => (huge ??= new Error(`\u001b[31mred\tline\u001b[0m\n${'x'.repeat(1024 * 1024)}\n`.repeat(17))),
  ],
]

/** One line of sane length (room for a fixed prefix of the caller's). */
function expectOneLine(text: unknown, prefix = ''): void {
  expect(typeof text).toBe('string')
  const line = text as string
  expect(line.startsWith(prefix), line.slice(0, 200)).toBe(true)
  expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
  expect(line.length).toBeLessThanOrEqual(prefix.length + MAX_LINE + 100)
}

/** A failure a `fail` frame can carry: a bounded string message, a bounded string stack or none. */
function expectWellFormed(failure: Failure | undefined): void {
  expect(failure).toBeDefined()
  expect(typeof failure!.message).toBe('string')
  expect(failure!.message.length).toBeLessThanOrEqual(MAX_MESSAGE + 100)
  if (failure!.stack !== undefined) expect(failure!.stack.length).toBeLessThanOrEqual(MAX_STACK + 100)
}

/** How a callback misbehaves: throws the value, or returns a promise rejected with it. */
const WAYS = ['throws', 'rejects'] as const
const misbehave = (way: (typeof WAYS)[number], value: unknown): unknown => {
  if (way === 'throws') throw value
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- user code may reject with anything: the zoo's values
  return Promise.reject(value)
}
const never = (): Promise<never> => new Promise(() => {})

/** Events for readTotal that keep the message of each warning in `warnings`. */
/** The master's events, whose log lines go to `warnings`. */
function warningsInto(warnings: unknown[]): EventEmitter<MasterEvents> {
  const events = new EventEmitter<MasterEvents>()
  events.on('log', (line) => warnings.push(line.message))
  return events
}

/** Pulls a source over `getJobs` (and `key`) until it fails; resolves with the error. */
async function sourceError(source: JobSource): Promise<unknown> {
  const ledger = new Ledger(1000)
  const pulling = new Source(source, ledger, new SkipSet(), 100, () => {}).run(undefined, { position: 0, args: {} })
  return pulling.then(
    () => undefined,
    (error: unknown) => error,
  )
}

/** The first verdict of a throttle over `check`. */
function firstVerdict(check: () => unknown, intervalMs = 1000): Promise<ThrottleVerdict> {
  return new Promise((resolve) => {
    const throttle = new Throttle(check, {}, intervalMs, (verdict) => {
      throttle.stop()
      resolve(verdict)
    })
    throttle.start()
  })
}

/** Runs one job (or a batch of 3) through a Runner; resolves with the failures reported. */
async function runnerFailures(handler: (...args: never[]) => unknown, batched: boolean): Promise<(Failure | undefined)[]> {
  const n = batched ? 3 : 1
  const failures: (Failure | undefined)[] = []
  let done: () => void
  const finished = new Promise<void>((resolve) => (done = resolve))
  const onFinished = (_seq: number, _connection: number, failure: Failure | undefined): void => {
    failures.push(failure)
    if (failures.length === n) done()
  }
  const runner = batched
    ? new Runner({ batching: { handler: handler as never, size: n, linger: 0, onReleased: () => {} }, concurrency: 1, onFinished })
    : new Runner({ handler: handler as never, concurrency: 1, onFinished })
  runner.push(
    jobsMessage(
      [0, 1, 2].slice(0, n),
      [0, 1, 2].slice(0, n).map((id) => ({ id })),
      new Array<number>(n).fill(1),
    ),
    1,
  )
  await finished
  runner.close()
  return failures
}

const lifecycle = (hooks: ConstructorParameters<typeof Lifecycle>[0], ms = 1000): Lifecycle =>
  new Lifecycle(hooks, emptyScope(), 1, 1, { ms, module: 'handler.mjs' })

describe('describeThrown and thrownLine', () => {
  it.each(ZOO)('describe %s in one line, never throwing', (_name, make) => {
    const value = make()
    expectOneLine(describeThrown(value))
    expectOneLine(thrownLine(value))
  })

  it("names the user's file and line, relative to the current directory", () => {
    expect(thrownLine(new Error('no connection\ndetail: x'))).toMatch(/^no connection \(at test\/unit\/user-code\.test\.ts:\d+\)$/)
    expect(oneLine('\n\n  first\nsecond')).toBe('first')
  })
})

// A failure of the 17 MB value trims its stack (megabytes); a busy machine needs time for it.
describe('every callback meets the zoo', { timeout: 60_000 }, () => {
  describe.each(ZOO)('%s', (_name, make) => {
    it.each(WAYS)('the generator %s: the source rejects with one line', async (way) => {
      const error = await sourceError({
        getJobs: async function* () {
          await misbehave(way, make())
        },
      })
      expect(error).toBeInstanceOf(JobSourceError)
      expectOneLine((error as Error).message, 'The generator threw: ')
    })

    it('key() throws: the source rejects with one line naming the job', async () => {
      const error = await sourceError({
        getJobs: function* () {
          yield { id: 1 }
        },
        key: () => misbehave('throws', make()) as number,
      })
      expect(error).toBeInstanceOf(JobSourceError)
      expectOneLine((error as Error).message, 'key(job) threw for job #0: ')
    })

    it.each(WAYS)('total() %s: one warning, no total', async (way) => {
      const warnings: unknown[] = []
      const total = await readTotal(
        { source: { getJobs: () => [], total: () => misbehave(way, make()) as number }, args: {}, shard: undefined },
        warningsInto(warnings),
      )
      expect(total).toBeUndefined()
      expect(warnings).toHaveLength(1)
      expectOneLine(warnings[0], 'total() failed, running without a total: ')
    })

    it.each(WAYS)('progress() %s: one warning, the percent from the total', async (way) => {
      const warnings: string[] = []
      const probe = new ProgressProbe({ progress: () => misbehave(way, make()) as number }, { args: {} }, (line) => warnings.push(line))
      await probe.ask(7, 7)
      expect(probe.latest).toBeUndefined()
      expect(warnings).toHaveLength(1)
      expectOneLine(warnings[0], 'progress() failed, the percent comes from the total from now on: ')
    })

    it.each(WAYS)('the throttle check %s: dispatch is held with one line', async (way) => {
      expectOneLine(await firstVerdict(() => misbehave(way, make())), 'throttle check threw: ')
    })

    it.each(WAYS)('the handler %s: a well-formed failure', async (way) => {
      const [failure] = await runnerFailures(() => misbehave(way, make()), false)
      expectWellFormed(failure)
    })

    it.each(WAYS)('handleBatch %s: each job of the batch ends alone with a well-formed failure', async (way) => {
      const failures = await runnerFailures(() => misbehave(way, make()), true)
      expect(failures).toHaveLength(3)
      for (const failure of failures) expectWellFormed(failure)
    })

    it.each(WAYS)('setup %s: a SetupError of one line', async (way) => {
      const error = await lifecycle({ setup: () => misbehave(way, make()) })
        .begin({})
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(error).toBeInstanceOf(SetupError)
      expectOneLine((error as Error).message, "The handler's setup failed: ")
    })

    it.each(WAYS)('teardown %s: one warning', async (way) => {
      const life = lifecycle({ teardown: () => misbehave(way, make()) })
      await life.begin({})
      const warnings: string[] = []
      await life.end((message) => warnings.push(message))
      expect(warnings).toHaveLength(1)
      expectOneLine(warnings[0], "The handler's teardown failed: ")
    })
  })
})

describe('every callback that could stall the run meets a promise that never settles', () => {
  it('total(): a warning after its deadline, no total', async () => {
    const warnings: unknown[] = []
    const total = await readTotal(
      { source: { getJobs: () => [], total: never, module: 'jobs.mjs' }, args: {}, shard: undefined },
      warningsInto(warnings),
      50,
    )
    expect(total).toBeUndefined()
    expect(warnings).toEqual(['total() failed, running without a total: did not finish within 0.05 s (jobs.mjs)'])
  })

  it('progress(): a warning after its deadline, the percent from the total', async () => {
    const warnings: string[] = []
    const probe = new ProgressProbe({ progress: never, module: 'jobs.mjs' }, { args: {} }, (line) => warnings.push(line), 50)
    await probe.ask(7, 7)
    expect(probe.latest).toBeUndefined()
    expect(warnings).toEqual(['progress() failed, the percent comes from the total from now on: did not finish within 0.05 s (jobs.mjs)'])
  })

  it('the throttle check: held after its interval', async () => {
    expect(await firstVerdict(never, 50)).toBe('throttle check did not answer within 0.05 s')
  })

  it('setup: a SetupError naming the module after its deadline', async () => {
    await expect(lifecycle({ setup: never }, 50).begin({})).rejects.toThrow(
      new SetupError("The handler's setup failed: did not finish within 0.05 s (handler.mjs); raise --setup-timeout if it needs longer"),
    )
  })

  it('teardown: a warning naming the module after its deadline', async () => {
    const life = lifecycle({ teardown: never }, 50)
    await life.begin({})
    const warnings: string[] = []
    await life.end((message) => warnings.push(message))
    expect(warnings).toEqual(["The handler's teardown failed: did not finish within 0.05 s (handler.mjs)"])
  })

  it('the handler and handleBatch: the lane is freed when the master takes the job back (--job-timeout)', async () => {
    for (const batched of [false, true]) {
      const reports: boolean[] = []
      const onFinished = (_seq: number, _c: number, _f: Failure | undefined, report: boolean): number => reports.push(report)
      const runner = batched
        ? new Runner({ batching: { handler: never, size: 1, linger: 0, onReleased: () => {} }, concurrency: 1, onFinished })
        : new Runner({ handler: never, concurrency: 1, onFinished })
      runner.push(jobsMessage([0], [{ id: 0 }], [1]), 1)
      await new Promise((resolve) => setImmediate(resolve))
      expect(runner.running).toBe(1)
      runner.abandon(0, 1)
      expect(reports).toEqual([false])
      expect(runner.running).toBe(0)
      runner.close()
    }
  })
})
