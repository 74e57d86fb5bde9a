import { describe, expect, it } from 'vitest'
import { OptionError } from '../../src/errors.js'
import type { MasterOptions, SlaveOptions } from '../../src/options.js'
import type { AnySpec } from '../../src/option-specs.js'
import { MASTER_OPTIONS, SLAVE_OPTIONS } from '../../src/option-specs.js'
import { MASTER_DEFAULTS, resolveMasterOptions, resolveSlaveOptions, SLAVE_DEFAULTS, validateRunKey } from '../../src/options.js'
import { thrownBy } from './support.js'

const source = { getJobs: function* () {} }
const handler = (): void => {}

/** The [min, max] of every option of a spec table that has bounds. */
function boundsOf(table: Record<string, AnySpec>): Record<string, [number, number]> {
  return Object.fromEntries(
    Object.entries(table).flatMap(([name, spec]) => (spec.bounds === undefined ? [] : [[name, [spec.bounds.min, spec.bounds.max]]])),
  )
}

/** Runs `fn` and returns the OptionError it throws. */
function optionError(fn: () => unknown): OptionError {
  const error = thrownBy(fn, OptionError)
  expect(error.code).toBe('TM_ERR_OPTION')
  expect(error.exitCode).toBe(2)
  return error
}

describe('resolveMasterOptions', () => {
  it('fills every default', () => {
    expect(resolveMasterOptions({ source })).toEqual({ ...MASTER_DEFAULTS, source, shownArgs: {}, secrets: [], argsFromEnv: {} })
    expect(MASTER_DEFAULTS).toMatchObject({
      key: 'run',
      stateDir: './.taskmaster',
      host: '127.0.0.1',
      port: 5050,
      size: 10000,
      batchSize: 1000,
      retries: 3,
      maxFrame: 16 * 1024 * 1024,
    })
  })

  it('keeps given values', () => {
    const o = resolveMasterOptions({
      source,
      key: 'k.1',
      port: 0,
      size: 1,
      retries: 0,
      retryDelay: 0,
      jobTimeout: 2.5,
      token: 't',
      args: { a: 'b' },
    })
    expect(o).toMatchObject({ key: 'k.1', port: 0, size: 1, retries: 0, retryDelay: 0, jobTimeout: 2.5, token: 't', args: { a: 'b' } })
  })

  it('resolves env: arguments and masks secrets in what is shown', () => {
    process.env.TM_OPTIONS_TEST_DB = 'postgres://u:pw-long@h/d'
    try {
      const o = resolveMasterOptions({ source, args: { db: 'env:TM_OPTIONS_TEST_DB', token: 'tok' } })
      expect(o).toMatchObject({
        args: { db: 'postgres://u:pw-long@h/d', token: 'tok' },
        shownArgs: { db: 'postgres://u:***@h/d', token: '***' },
        secrets: ['pw-long', 'tok'],
        argsFromEnv: { db: 'TM_OPTIONS_TEST_DB' },
      })
    } finally {
      delete process.env.TM_OPTIONS_TEST_DB
    }
    expect(() => resolveMasterOptions({ source, args: { n: 3 as unknown as string } })).toThrow(
      'options.args.n must be a string, got number',
    )
  })

  it('does not let undefined values hide defaults', () => {
    const o = resolveMasterOptions({ source, key: undefined, port: undefined, size: undefined, retries: undefined, heartbeat: undefined })
    expect(o).toMatchObject({ key: 'run', port: 5050, size: 10000, retries: 3, heartbeat: 5 })
  })

  const bad: [Partial<MasterOptions>, string, string][] = [
    [{ port: -1 }, 'port', 'options.port must be an integer from 0 to 65535, got -1'],
    [{ port: 70000 }, 'port', 'options.port must be an integer from 0 to 65535, got 70000'],
    [{ port: 1.5 }, 'port', 'options.port must be an integer from 0 to 65535, got 1.5'],
    [{ size: 0 }, 'size', 'options.size must be an integer from 1 to 1000000, got 0'],
    [{ batchSize: 0 }, 'batchSize', 'options.batchSize must be an integer from 1 to 1000000, got 0'],
    [
      { checkpointInterval: 0 },
      'checkpointInterval',
      'options.checkpointInterval must be a number of seconds over 0 and up to 604800, got 0',
    ],
    [{ heartbeat: Infinity }, 'heartbeat', 'options.heartbeat must be a number of seconds from 0.1 to 604800, got Infinity'],
    [{ maxFrame: 1023 }, 'maxFrame', 'options.maxFrame must be an integer from 1024 to 1073741824, got 1023'],
    [{ token: '' }, 'token', 'options.token must be 1 to 1024 visible ASCII characters (no spaces): it travels in an HTTP header'],
    [{ token: 'two words' }, 'token', 'options.token must be 1 to 1024 visible ASCII characters (no spaces): it travels in an HTTP header'],
    [{ retries: -1 }, 'retries', 'options.retries must be an integer from 0 to 250, got -1'],
    [{ retries: 251 }, 'retries', 'options.retries must be an integer from 0 to 250, got 251'],
    [{ retryDelay: -1 }, 'retryDelay', 'options.retryDelay must be a number of seconds from 0 to 604800, got -1'],
    [{ jobTimeout: NaN }, 'jobTimeout', 'options.jobTimeout must be a number of seconds from 0 to 604800, got NaN'],
    [{ size: 300_000_000 }, 'size', 'options.size must be an integer from 1 to 1000000, got 300000000'],
    [{ batchSize: 1_000_001 }, 'batchSize', 'options.batchSize must be an integer from 1 to 1000000, got 1000001'],
    [{ maxFrame: 2 ** 31 }, 'maxFrame', 'options.maxFrame must be an integer from 1024 to 1073741824, got 2147483648'],
    [
      { checkpointInterval: 604_801 },
      'checkpointInterval',
      'options.checkpointInterval must be a number of seconds over 0 and up to 604800, got 604801',
    ],
    [{ heartbeat: 1e9 }, 'heartbeat', 'options.heartbeat must be a number of seconds from 0.1 to 604800, got 1000000000'],
    [{ retryDelay: 3e6 }, 'retryDelay', 'options.retryDelay must be a number of seconds from 0 to 604800, got 3000000'],
    [{ jobTimeout: 2 ** 31 }, 'jobTimeout', 'options.jobTimeout must be a number of seconds from 0 to 604800, got 2147483648'],
    [{ maxSlaves: 0 }, 'maxSlaves', 'options.maxSlaves must be an integer >= 1, got 0'],
    [{ maxSlaves: 2.5 }, 'maxSlaves', 'options.maxSlaves must be an integer >= 1, got 2.5'],
    [
      { key: '../etc' },
      'key',
      "The run key (--key, options.key) must be 1-128 characters of letters, digits, '.', '_' or '-' (starting with a letter or digit), got '../etc'",
    ],
  ]
  for (const [options, name, message] of bad) {
    it(`names the bad option ${name} (${JSON.stringify(options)})`, () => {
      const error = optionError(() => resolveMasterOptions({ source, ...options }))
      expect(error.option).toBe(name)
      expect(error.message).toBe(message)
    })
  }

  it('accepts every limit itself', () => {
    const o = resolveMasterOptions({
      source,
      size: 1_000_000,
      batchSize: 1_000_000,
      maxFrame: 2 ** 30,
      checkpointInterval: 604_800,
      heartbeat: 604_800,
      retryDelay: 604_800,
      jobTimeout: 604_800,
    })
    expect(o).toMatchObject({ size: 1_000_000, batchSize: 1_000_000, maxFrame: 2 ** 30, heartbeat: 604_800 })
    expect(boundsOf(MASTER_OPTIONS)).toEqual({
      port: [0, 65535],
      size: [1, 1_000_000],
      batchSize: [1, 1_000_000],
      checkpointInterval: [0, 604_800],
      heartbeat: [0.1, 604_800],
      maxFrame: [1024, 2 ** 30],
      maxSlaves: [1, Number.MAX_SAFE_INTEGER],
      retries: [0, 250],
      retryDelay: [0, 604_800],
      jobTimeout: [0, 604_800],
      rate: [0.001, 10_000_000],
      maxInFlight: [1, 100_000_000],
      throttleInterval: [0, 604_800],
    })
    expect(boundsOf(SLAVE_OPTIONS)).toEqual({
      concurrency: [1, 100_000],
      batch: [1, 100_000],
      linger: [0, 60_000],
      setupTimeout: [0, 604_800],
      prefetch: [0, 1_000_000],
      reconnect: [0, 604_800],
      maxFrame: [1024, 2 ** 30],
    })
  })

  it('takes a fractional rate and a whole max in flight, within their limits; nothing of either by default', () => {
    expect(resolveMasterOptions({ source })).toMatchObject({
      rate: undefined,
      maxInFlight: undefined,
      paused: false,
      throttle: undefined,
      throttleInterval: 1,
    })
    expect(resolveMasterOptions({ source, rate: 0.5, maxInFlight: 100_000_000, paused: true })).toMatchObject({
      rate: 0.5,
      maxInFlight: 100_000_000,
      paused: true,
    })
    expect(resolveMasterOptions({ source, rate: 0.001, maxInFlight: 1 })).toMatchObject({ rate: 0.001, maxInFlight: 1 })
    expect(resolveMasterOptions({ source, rate: 10_000_000 })).toMatchObject({ rate: 10_000_000 })
    // One spec bounds them (MASTER_OPTIONS): a rate of 1e-9 would wait past what a timer takes.
    for (const rate of [0, 1e-9, 0.0009, -5, NaN, Infinity, 20_000_000]) {
      expect(() => resolveMasterOptions({ source, rate })).toThrow(
        `options.rate must be a number of jobs per second from 0.001 to 10000000, got ${rate}`,
      )
    }
    for (const maxInFlight of [0, 2.5, -1, NaN, Infinity, 200_000_000]) {
      expect(() => resolveMasterOptions({ source, maxInFlight })).toThrow(
        `options.maxInFlight must be a whole number of jobs from 1 to 100000000, got ${maxInFlight}`,
      )
    }
    expect(() => resolveMasterOptions({ source, throttle: 'lag' as never })).toThrow(
      'options.throttle must be a function ({ args, signal }) => false | true | reason',
    )
    expect(() => resolveMasterOptions({ source, throttleInterval: 0 })).toThrow(
      'options.throttleInterval must be a number of seconds over 0 and up to 604800, got 0',
    )
  })

  it('serves at most 10000 slaves unless told otherwise', () => {
    expect(MASTER_DEFAULTS.maxSlaves).toBe(10_000)
    expect(resolveMasterOptions({ source, maxSlaves: 1 }).maxSlaves).toBe(1)
  })

  it('refuses an option name it does not know, suggesting the nearest known one', () => {
    const typo = { source, rettries: 5, stateDri: '/nonexistent' } as MasterOptions
    const error = optionError(() => resolveMasterOptions(typo))
    expect(error.message).toBe('options.rettries is not an option of Master; did you mean retries?')
    expect(error.option).toBe('rettries')
    expect(optionError(() => resolveMasterOptions({ source, stateDri: 'x' } as MasterOptions)).message).toBe(
      'options.stateDri is not an option of Master; did you mean stateDir?',
    )
    expect(optionError(() => resolveMasterOptions({ source, colour: 'red' } as MasterOptions)).message).toBe(
      'options.colour is not an option of Master',
    )
    // Undefined is no value: a spread of optional fields stays fine.
    expect(resolveMasterOptions({ source, nothing: undefined } as MasterOptions).retries).toBe(3)
    expect(optionError(() => resolveMasterOptions(undefined as unknown as MasterOptions)).message).toBe(
      'options must be an object of Master options, got undefined',
    )
  })

  it("takes only true or false for a boolean option ('no' and 'false' are truthy strings)", () => {
    for (const name of ['paused', 'reset', 'acceptJournalLoss', 'standby'] as const) {
      const error = optionError(() => resolveMasterOptions({ source, [name]: 'no' }))
      expect([error.message, error.option]).toEqual([`options.${name} must be true or false, got 'no'`, name])
      expect(optionError(() => resolveMasterOptions({ source, [name]: 1 })).message).toBe(
        `options.${name} must be true or false, got number`,
      )
    }
    expect(resolveMasterOptions({ source, paused: true }).paused).toBe(true)
  })

  it('requires a source with getJobs', () => {
    expect(optionError(() => resolveMasterOptions({} as MasterOptions)).option).toBe('source')
    expect(optionError(() => resolveMasterOptions({ source: {} } as MasterOptions)).message).toBe(
      'options.source.getJobs must be a function',
    )
  })
})

describe('validateRunKey', () => {
  it('accepts safe file names', () => {
    for (const key of ['run', 'a', 'A1_b-c.d', 'x'.repeat(128)]) validateRunKey(key)
  })

  it('refuses others', () => {
    for (const key of ['', '.hidden', '-x', 'a/b', 'a b', 'x'.repeat(129)])
      expect(optionError(() => validateRunKey(key)).option).toBe('key')
  })
})

describe('resolveSlaveOptions', () => {
  it('a batch handler: batch 100 and linger 10 ms by default; no prefetch (the adaptive window, its floor concurrency × batch); handler and batchHandler do not go together', () => {
    const batchHandler = (): void => {}
    expect(resolveSlaveOptions({ batchHandler, host: 'h:1', concurrency: 2 })).toMatchObject({
      batch: 100,
      linger: 10,
      prefetch: undefined,
    })
    expect(optionError(() => resolveSlaveOptions({ handler, batchHandler, host: 'h:1' })).message).toBe(
      'options.handler and options.batchHandler do not go together: give one',
    )
    expect(optionError(() => resolveSlaveOptions({ batchHandler: 3 as never, host: 'h:1' })).message).toBe(
      'options.batchHandler must be a function',
    )
    expect(optionError(() => resolveSlaveOptions({ batchHandler, host: 'h:1', batch: 0 })).message).toBe(
      'options.batch must be an integer from 1 to 100000, got 0',
    )
  })

  it('fills every default; no prefetch (the adaptive window) unless one is given', () => {
    expect(resolveSlaveOptions({ handler, host: 'h:1' })).toEqual({ ...SLAVE_DEFAULTS, handler, host: 'h:1' })
    expect(resolveSlaveOptions({ handler, host: 'h:1', concurrency: 8 }).prefetch).toBeUndefined()
    expect(resolveSlaveOptions({ handler, host: 'h:1', concurrency: 8, prefetch: 0 }).prefetch).toBe(0)
    expect(resolveSlaveOptions({ handler, host: 'h:1', concurrency: 8, prefetch: 4000 }).prefetch).toBe(4000)
  })

  it('does not let undefined values hide defaults', () => {
    const o = resolveSlaveOptions({
      handler,
      host: 'h:1',
      concurrency: undefined,
      reconnect: undefined,
      maxFrame: undefined,
      prefetch: undefined,
    })
    expect(o).toMatchObject({ concurrency: 1, reconnect: 60, maxFrame: 16 * 1024 * 1024 })
    expect(o.prefetch).toBeUndefined()
  })

  const bad: [Partial<SlaveOptions>, string, string][] = [
    [{ handler: 'x' as never }, 'handler', 'options.handler must be a function'],
    [{ host: '' }, 'host', 'options.host must be a host:port string'],
    [{ concurrency: 0 }, 'concurrency', 'options.concurrency must be an integer from 1 to 100000, got 0'],
    [{ prefetch: -1 }, 'prefetch', 'options.prefetch must be an integer from 0 to 1000000, got -1'],
    [{ reconnect: -1 }, 'reconnect', 'options.reconnect must be a number of seconds from 0 to 604800, got -1'],
    [{ maxFrame: 10 }, 'maxFrame', 'options.maxFrame must be an integer from 1024 to 1073741824, got 10'],
    [{ maxFrame: 2 ** 30 + 1 }, 'maxFrame', 'options.maxFrame must be an integer from 1024 to 1073741824, got 1073741825'],
    [{ concurrency: 100_001 }, 'concurrency', 'options.concurrency must be an integer from 1 to 100000, got 100001'],
    [{ prefetch: 1_000_001 }, 'prefetch', 'options.prefetch must be an integer from 0 to 1000000, got 1000001'],
    [{ reconnect: 604_801 }, 'reconnect', 'options.reconnect must be a number of seconds from 0 to 604800, got 604801'],
    [{ reconnect: Infinity }, 'reconnect', 'options.reconnect must be a number of seconds from 0 to 604800, got Infinity'],
  ]
  it('refuses an option name it does not know, suggesting the nearest known one', () => {
    expect(optionError(() => resolveSlaveOptions({ handler, host: 'h:1', concurrencyy: 4 } as SlaveOptions)).message).toBe(
      'options.concurrencyy is not an option of Slave; did you mean concurrency?',
    )
    expect(optionError(() => resolveSlaveOptions({ handler, host: 'h:1', Prefetch: 4 } as SlaveOptions)).message).toBe(
      'options.Prefetch is not an option of Slave; did you mean prefetch?',
    )
  })

  for (const [options, name, message] of bad) {
    it(`names the bad option ${name}`, () => {
      const error = optionError(() => resolveSlaveOptions({ handler, host: 'h:1', ...options }))
      expect(error.option).toBe(name)
      expect(error.message).toBe(message)
    })
  }
})
