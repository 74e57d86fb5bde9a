import { describe, expect, it } from 'vitest'
import { OptionError, SourceCheckError } from '../../../../src/errors.js'
import { openSource } from '../../../../src/master/engine/source-check.js'
import type { JobSource, NamedThrottle, SourceContext } from '../../../../src/options.js'
import { rejectionOf } from '../../support.js'

/** openSource over `source` (a jobs module's), with the run's arguments `args`. */
const open = (source: Partial<JobSource>, more: { throttle?: NamedThrottle; ms?: number } = {}): Promise<NamedThrottle | undefined> =>
  openSource(
    { source: { getJobs: () => [], module: 'jobs.mjs', ...source }, args: { db: 'x' }, shard: undefined, throttle: more.throttle },
    more.ms,
  )

/** The one line a refused start says, checked to be a SourceCheckError of exit code 2. */
async function refused(promise: Promise<unknown>): Promise<string> {
  const error = await rejectionOf(promise, SourceCheckError)
  expect(error).toMatchObject({ code: 'TM_ERR_SOURCE_CHECK', exitCode: 2 })
  expect(error.message).not.toContain('\n')
  return error.message
}

describe("the source's check and throttle, before the master listens", () => {
  it('calls check once with copies of the arguments and the shard; no check, no call', async () => {
    const seen: SourceContext[] = []
    await openSource({
      source: { getJobs: () => [], check: (ctx) => void seen.push(ctx) },
      args: { db: 'x' },
      shard: { index: 2, count: 3 },
      throttle: undefined,
    })
    expect(seen).toEqual([{ args: { db: 'x' }, shard: { index: 2, count: 3 } }])
    expect(await open({})).toBeUndefined()
  })

  it("a Taskmaster error's own line is the refusal, as it is (pgTable's one-line messages)", async () => {
    const check = (): never => {
      throw new OptionError('pgTable: no database: give the run argument db')
    }
    expect(await refused(open({ check }))).toBe('pgTable: no database: give the run argument db')
    // Of another copy of the package (a jobs module loaded as CommonJS imports one of its own): known by its code.
    const foreign = (): never => {
      throw Object.assign(new Error('pgTable: a connection string needs the pg package'), { code: 'TM_ERR_OPTION', exitCode: 2 })
    }
    expect(await refused(open({ check: foreign }))).toBe('pgTable: a connection string needs the pg package')
    const pgError = (): never => {
      throw Object.assign(new Error('relation "x" does not exist'), { code: '42P01' })
    }
    expect(await refused(open({ check: pgError }))).toMatch(/^The jobs source's check\(\) threw: relation "x" does not exist/)
  })

  it('anything else thrown is one line saying what and where; a check that does not answer is said after its deadline', async () => {
    const check = (): Promise<void> => Promise.reject(new Error('boom\n    at somewhere'))
    expect(await refused(open({ check }))).toMatch(/^The jobs source's check\(\) threw: boom( \(at .+\))?$/)
    const symbol = (): never => {
      throw Symbol('odd') as unknown as Error
    }
    expect(await refused(open({ check: symbol }))).toBe("The jobs source's check() threw: Symbol(odd)")
    const never = (): Promise<void> => new Promise(() => {})
    expect(await refused(open({ check: never }, { ms: 20 }))).toBe("The jobs source's check() did not finish within 0.02 s (jobs.mjs)")
  })

  it('the throttle the source asks for, named; none asked, or the master has its own: none from the source', async () => {
    const check = (): false => false
    const named = { check, name: 'lag over 5 s' }
    expect(await open({ throttle: () => named })).toBe(named)
    expect(await open({ throttle: () => check })).toEqual({ check, name: 'check' })
    expect(await open({ throttle: () => undefined })).toBeUndefined()
    let asked = 0
    expect(await open({ throttle: () => (asked++, named) }, { throttle: { check, name: 'mine' } })).toBeUndefined()
    expect(asked).toBe(0)
  })

  it('a throttle() that returns what is no throttle, or throws, refuses the run in one line', async () => {
    expect(await refused(open({ throttle: () => 5 as unknown as undefined }))).toBe(
      "The jobs source's throttle() returned a number; it must return a throttle check ({ args, signal }) => false | true | reason, { check, name }, or undefined",
    )
    const throws = (): never => {
      throw new Error('no lag table')
    }
    expect(await refused(open({ throttle: throws }))).toMatch(/^The jobs source's throttle\(\) threw: no lag table/)
  })
})
