import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { MASTER_CLI } from '../../../src/cli/master-options.js'
import type { CliTable } from '../../../src/cli/option-table.js'
import { addOptions, libraryOptions } from '../../../src/cli/option-table.js'
import { SLAVE_CLI } from '../../../src/cli/slave-options.js'

/** Parses `argv` against `table` alone (no action): the values commander hands the action. */
function parse<L>(table: CliTable<L>, argv: string[], env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const saved = process.env.TM_TOKEN
  delete process.env.TM_TOKEN
  Object.assign(process.env, env)
  try {
    return addOptions(new Command().exitOverride(), table).parse(argv, { from: 'user' }).opts()
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
    const values = parse(MASTER_CLI, ['-H', '0.0.0.0:0', '--accept-journal-loss', '--max-slaves', '2', '-s', '5', '--spawn', '2', '--handler', 'h.mjs', '--status-interval', '3'], { TM_TOKEN: 's3cret' })
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
    const values = parse(MASTER_CLI, ['--rate', '2.5', '--max-in-flight', '64', '--paused', '--throttle', 'lag.ts:check', '--throttle-interval', '0.5'])
    expect(values).toMatchObject({ throttle: 'lag.ts:check' })
    expect(libraryOptions(MASTER_CLI, values)).toMatchObject({ rate: 2.5, maxInFlight: 64, paused: true, throttleInterval: 0.5 })
    expect(libraryOptions(MASTER_CLI, values)).not.toHaveProperty('throttle')
    for (const rate of ['0', '1e-9', '-5', 'NaN', 'Infinity', '', '2e7']) {
      expect(() => parse(MASTER_CLI, ['--rate', rate])).toThrow(`option '--rate <jobs/s>' argument '${rate}' is invalid. must be a number of jobs per second from 0.001 to 10000000, got '${rate}'`)
    }
    for (const max of ['0', '1.5', 'NaN', '2e8']) {
      expect(() => parse(MASTER_CLI, ['--max-in-flight', max])).toThrow(`option '--max-in-flight <n>' argument '${max}' is invalid. must be a whole number of jobs from 1 to 100000000, got '${max}'`)
    }
    expect(libraryOptions(MASTER_CLI, parse(MASTER_CLI, ['--rate', '0.001', '--max-in-flight', '1e8']))).toMatchObject({ rate: 0.001, maxInFlight: 100_000_000 })
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

describe('addOptions', () => {
  it('refuses a table key that is not the option’s attribute name (a typo would lose the value)', () => {
    expect(() => addOptions(new Command(), { size: { flags: '--sise <n>', help: 'x' } })).toThrow("Option table key 'size' does not match --sise <n> ('sise')")
  })
})
