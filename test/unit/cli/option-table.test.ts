import { Command } from 'commander'
import { afterEach, describe, expect, it } from 'vitest'
import { MASTER_CLI } from '../../../src/cli/master-options.js'
import { InvalidArgumentError } from 'commander'
import { POSITIVE_SECONDS, SECONDS, integers } from '../../../src/bounds.js'
import { addOptions, asFlagError, bounded, libraryOptions, spawnArgs } from '../../../src/cli/option-table.js'
import { OptionError } from '../../../src/errors.js'
import type { CliTable } from '../../../src/cli/option-table.js'
import { SLAVE_CLI } from '../../../src/cli/slave-options.js'

/** What commander would have written to stderr: kept here, out of the test's output, and asserted. */
const written: string[] = []
// A test that expects an error line takes it from `written`; any other is a failure.
afterEach(() => expect(written.splice(0)).toEqual([]))

/** Parses `argv` against `table` alone (no action): the values commander hands the action. */
function parse<L>(table: CliTable<L>, argv: string[], env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const saved = process.env.TM_TOKEN
  delete process.env.TM_TOKEN
  Object.assign(process.env, env)
  try {
    const command = new Command().exitOverride().configureOutput({ writeErr: (text) => written.push(text) })
    return addOptions(command, table).parse(argv, { from: 'user' }).opts()
  } finally {
    if (saved === undefined) delete process.env.TM_TOKEN
    else process.env.TM_TOKEN = saved
  }
}

describe('MASTER_CLI', () => {
  it('maps the defaults to the library defaults, and nothing of the CLI’s own', () => {
    expect(libraryOptions(MASTER_CLI, parse(MASTER_CLI, []))).toEqual({
      stateDir: './.taskmaster',
      host: '127.0.0.1',
      port: 5050,
      size: 10000,
      retries: 3,
      retryDelay: 1,
      jobTimeout: 0,
      heartbeat: 5,
      maxFrame: 16777216,
      maxSlaves: 10000,
      throttleInterval: 1,
      batchSize: 1000,
    })
  })

  it('maps given values, --host to host and port, TM_TOKEN to token', () => {
    const values = parse(
      MASTER_CLI,
      [
        '-H',
        '0.0.0.0:0',
        '--accept-journal-loss',
        '--max-slaves',
        '2',
        '-s',
        '5',
        '--spawn',
        '2',
        '--handler',
        'h.mjs',
        '--status-interval',
        '3',
      ],
      { TM_TOKEN: 's3cret' },
    )
    expect(values).toMatchObject({ spawn: 2, handler: 'h.mjs', statusInterval: 3 })
    expect(libraryOptions(MASTER_CLI, values)).toEqual({
      stateDir: './.taskmaster',
      acceptJournalLoss: true,
      host: '0.0.0.0',
      port: 0,
      size: 5,
      token: 's3cret',
      retries: 3,
      retryDelay: 1,
      jobTimeout: 0,
      heartbeat: 5,
      maxFrame: 16777216,
      maxSlaves: 2,
      throttleInterval: 1,
      batchSize: 1000,
    })
  })

  it('maps --rate, --max-in-flight, --paused and --throttle-interval; --throttle is loaded by the command', () => {
    const values = parse(MASTER_CLI, [
      '--rate',
      '2.5',
      '--max-in-flight',
      '64',
      '--paused',
      '--throttle',
      'lag.ts:check',
      '--throttle-interval',
      '0.5',
    ])
    expect(values).toMatchObject({ throttle: 'lag.ts:check' })
    expect(libraryOptions(MASTER_CLI, values)).toMatchObject({ rate: 2.5, maxInFlight: 64, paused: true, throttleInterval: 0.5 })
    expect(libraryOptions(MASTER_CLI, values)).not.toHaveProperty('throttle')
    for (const rate of ['0', '1e-9', '-5', 'NaN', 'Infinity', '', '2e7']) {
      const message = `option '--rate <jobs/s>' argument '${rate}' is invalid. must be a number of jobs per second from 0.001 to 10000000, got '${rate}'`
      expect(() => parse(MASTER_CLI, ['--rate', rate])).toThrow(message)
      // The one line the user sees.
      expect(written.splice(0)).toEqual([`error: ${message}\n`])
    }
    for (const max of ['0', '1.5', 'NaN', '2e8']) {
      const message = `option '--max-in-flight <n>' argument '${max}' is invalid. must be a whole number of jobs from 1 to 100000000, got '${max}'`
      expect(() => parse(MASTER_CLI, ['--max-in-flight', max])).toThrow(message)
      expect(written.splice(0)).toEqual([`error: ${message}\n`])
    }
    expect(libraryOptions(MASTER_CLI, parse(MASTER_CLI, ['--rate', '0.001', '--max-in-flight', '1e8']))).toMatchObject({
      rate: 0.001,
      maxInFlight: 100_000_000,
    })
  })
})

describe('SLAVE_CLI', () => {
  it('maps to the library, --ca, --procs and --quiet left to the command', () => {
    expect(libraryOptions(SLAVE_CLI, parse(SLAVE_CLI, ['--prefetch', '0', '--procs', '2', '--ca', 'ca.pem', '-q']))).toEqual({
      host: '127.0.0.1:5050',
      concurrency: 1,
      prefetch: 0,
      batch: 100,
      linger: 10,
      setupTimeout: 60,
      reconnect: 60,
      maxFrame: 16777216,
    })
  })
})

describe('bounded', () => {
  it('parses integers within their bounds, in decimal (1e3 is 1000)', () => {
    const parse = bounded(integers(1))
    expect(parse('1')).toBe(1)
    expect(parse('007')).toBe(7)
    expect(parse(' 42 ')).toBe(42)
    expect(parse('1e3')).toBe(1000)
    expect(bounded(integers(0))('0')).toBe(0)
  })

  it('refuses anything else with the one message of the bounds, naming the text', () => {
    const parse = bounded(integers(1))
    for (const bad of ['0', '-1', '1.5', 'abc', '', '0x10', '99999999999999999999', 'Infinity', 'NaN']) {
      expect(() => parse(bad)).toThrow(InvalidArgumentError)
      expect(() => parse(bad)).toThrow(`must be an integer >= 1, got '${bad}'`)
    }
    expect(() => bounded(integers(1, 10))('11')).toThrow("must be an integer from 1 to 10, got '11'")
  })

  it('parses seconds from 0 (or over 0) up to a week, fractions allowed', () => {
    expect(bounded(SECONDS)('0')).toBe(0)
    expect(bounded(SECONDS)('2.5')).toBe(2.5)
    expect(bounded(SECONDS)('1e2')).toBe(100)
    expect(bounded(POSITIVE_SECONDS)('0.001')).toBe(0.001)
    for (const bad of ['-1', '', '  ', 'Infinity', 'abc', '1s', '0x10', '604801']) {
      expect(() => bounded(SECONDS)(bad)).toThrow(`must be a number of seconds from 0 to 604800, got '${bad}'`)
    }
    expect(() => bounded(POSITIVE_SECONDS)('0')).toThrow("must be a number of seconds over 0 and up to 604800, got '0'")
  })

  it('takes the word off as null when asked to (tm-ctl rate off)', () => {
    expect(bounded(integers(1), 'off')('off')).toBeNull()
    expect(() => bounded(integers(1), 'off')('0')).toThrow("must be an integer >= 1 or off, got '0'")
  })
})

describe('spawnArgs', () => {
  it("passes the master's slave options to --spawn's slaves as tm-slave flags that read back the same values", () => {
    const values = parse(MASTER_CLI, [
      '-c',
      '4',
      '--prefetch',
      '0',
      '--batch',
      '7',
      '--linger',
      '3',
      '--max-frame',
      '2048',
      '--log-format',
      'json',
      '--spawn',
      '2',
      '--handler',
      'h.mjs',
      '--retries',
      '5',
    ])
    const args = spawnArgs(MASTER_CLI, values)
    expect(args).toEqual([
      '--concurrency',
      '4',
      '--prefetch',
      '0',
      '--batch',
      '7',
      '--linger',
      '3',
      '--max-frame',
      '2048',
      '--log-format',
      'json',
    ])
    expect(parse(SLAVE_CLI, args)).toMatchObject({ concurrency: 4, prefetch: 0, batch: 7, linger: 3, maxFrame: 2048, logFormat: 'json' })
    // Not given: the slave's own defaults, but the master's frame limit and log format always go.
    expect(spawnArgs(MASTER_CLI, parse(MASTER_CLI, []))).toEqual(['--max-frame', '16777216', '--log-format', 'text'])
  })

  it('every option passed on is a tm-slave option of the same flags and range', () => {
    for (const [name, entry] of Object.entries(MASTER_CLI)) {
      if (!('spawn' in entry)) continue
      const slave = (SLAVE_CLI as Record<string, (typeof SLAVE_CLI)[keyof typeof SLAVE_CLI]>)[name]
      expect(slave?.flags, name).toBe(entry.flags)
      expect('bounds' in entry ? entry.bounds : undefined, name).toEqual(
        slave !== undefined && 'bounds' in slave ? slave.bounds : undefined,
      )
    }
  })
})

describe('asFlagError', () => {
  it("names a library option's error by its flag, and leaves other errors as they are", () => {
    const error = asFlagError(MASTER_CLI, new OptionError("options.stateStore must be a postgres:// URL, got 'x'", 'stateStore'))
    expect(error).toBeInstanceOf(OptionError)
    expect((error as OptionError).message).toBe("--state-store must be a postgres:// URL, got 'x'")
    const other = new OptionError('options.standby needs options.stateStore (--standby needs --state-store postgres://...)', 'standby')
    expect((asFlagError(MASTER_CLI, new OptionError('options.tls must be ...', 'tls')) as OptionError).message).toBe(
      'options.tls must be ...',
    )
    expect(asFlagError(MASTER_CLI, other)).toBe(other)
  })
})

describe('addOptions', () => {
  it('refuses a table key that is not the option’s attribute name (a typo would lose the value)', () => {
    expect(() => addOptions(new Command(), { size: { flags: '--sise <n>', help: 'x' } })).toThrow(
      "Option table key 'size' does not match --sise <n> ('sise')",
    )
  })
})
