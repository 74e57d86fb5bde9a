import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LocalSlaves, SLAVE_BIN, localSlaveArgs } from '../../../src/slave/local-slaves.js'
import type { LocalSlavesOptions } from '../../../src/slave/local-slaves.js'
import { cleanTempDirs, fixture, tempDir } from '../../helpers/proc.js'
import { OptionError, StateError } from '../../../src/errors.js'
import { thrownBy } from '../support.js'

afterEach(cleanTempDirs)

describe("a local slave's arguments", () => {
  it('are the handler, --host, the slave options as their tm-slave flags, then the others', () => {
    expect(
      localSlaveArgs({
        handler: 'h.mjs:handleJob',
        host: 'ws://127.0.0.1:5050',
        slave: { concurrency: 4, prefetch: 0, maxFrame: 65536, setupTimeout: 2.5, reconnect: undefined },
        args: ['--log-format', 'json'],
      }),
    ).toEqual([
      'h.mjs:handleJob',
      '--host',
      'ws://127.0.0.1:5050',
      '--concurrency',
      '4',
      '--prefetch',
      '0',
      '--max-frame',
      '65536',
      '--setup-timeout',
      '2.5',
      '--log-format',
      'json',
    ])
    expect(localSlaveArgs({ args: ['h.mjs', '-p4', '--procs', '1'] })).toEqual(['h.mjs', '-p4', '--procs', '1'])
  })

  it('refuse a slave option out of its bounds, and a count out of 1 to 256, naming them', () => {
    expect(() => localSlaveArgs({ handler: 'h.mjs', slave: { concurrency: 0 } })).toThrow(
      'options.slave.concurrency must be an integer from 1 to 100000, got 0',
    )
    expect(() => new LocalSlaves({ count: 0, handler: 'h.mjs' })).toThrow('options.count must be an integer from 1 to 256, got 0')
    expect(() => new LocalSlaves({ count: 257, handler: 'h.mjs' })).toThrow('options.count must be an integer from 1 to 256, got 257')
    expect(() => new LocalSlaves({ count: 1, handler: 'h.mjs', killAfter: -1 })).toThrow(
      'options.killAfter must be a number of seconds >= 0, got -1',
    )
  })

  it('refuse an unknown option or slave setting (the nearest known one suggested), a missing count or handler: OptionErrors', () => {
    const refused = (options: unknown): string => {
      const error = thrownBy(() => new LocalSlaves(options as LocalSlavesOptions), OptionError)
      return error.message
    }
    expect(refused({ count: 1, handler: 'h.mjs', slave: { concurrencyy: 4 } })).toBe(
      'options.slave.concurrencyy is not an option of a local slave; did you mean concurrency?',
    )
    expect(refused({ count: 1, handler: 'h.mjs', kilAfter: 1 })).toBe(
      'options.kilAfter is not an option of LocalSlaves; did you mean killAfter?',
    )
    expect(refused(undefined)).toBe('options must be an object of LocalSlaves options, got undefined')
    expect(refused({ handler: 'h.mjs' })).toBe('options.count must be an integer from 1 to 256, got undefined')
    expect(refused({ count: 1 })).toBe(
      'options.handler must be given: the handler module each slave runs (path[:export]), or in options.args',
    )
    expect(refused({ count: 1, handler: 42 })).toBe('options.handler must be a module path[:export], got number')
    expect(refused({ count: 1, handler: 'h.mjs', args: '--x' })).toBe('options.args must be an array of strings (tm-slave arguments)')
  })
})

/**
 * Local slaves that are the stand-in (test/fixtures/stand-in-slave.mjs, run as a Node flag
 * before tm-slave's path): each start exits with the next of `exits`, then waits. Their
 * lines and fatal messages are kept.
 */
function standIns(
  exits: number[],
  options: Partial<LocalSlavesOptions> = {},
): { slaves: LocalSlaves; lines: string[]; fatal: string[]; starts: () => number } {
  const file = join(tempDir(), 'starts')
  const lines: string[] = []
  const fatal: string[] = []
  const slaves = new LocalSlaves({
    count: 1,
    handler: 'h.mjs',
    execArgv: [fixture('stand-in-slave.mjs')],
    env: { ...process.env, TM_STARTS: file, TM_EXITS: exits.join(',') },
    log: (line) => lines.push(line),
    onFatal: (message) => fatal.push(message),
    ...options,
  })
  const starts = (): number => {
    try {
      return readFileSync(file, 'utf8').length
    } catch {
      return 0
    }
  }
  return { slaves, lines, fatal, starts }
}

describe('local slaves', () => {
  it("run tm-slave's path and arguments, with the token in TM_TOKEN, and pass on their lines numbered", async () => {
    const { slaves, lines, starts } = standIns([0], { token: 's3cret', host: '127.0.0.1:1', slave: { concurrency: 2 } })
    slaves.start()
    expect(await slaves.exited()).toBe(0)
    expect(starts()).toBe(1)
    expect(lines).toEqual([
      `[slave 1] ${JSON.stringify({ args: ['h.mjs', '--host', '127.0.0.1:1', '--concurrency', '2'], token: 's3cret' })}`,
    ])
    expect(SLAVE_BIN).toMatch(/bin\/tm-slave\.js$/)
  })

  it('start again at once a slave that exits to restart (code 3), and say so', async () => {
    const { slaves, lines, starts } = standIns([3, 0], { restartCrashed: false })
    slaves.start()
    expect(await slaves.exited()).toBe(0)
    expect(starts()).toBe(2)
    expect(lines).toContain('[slave 1] exited (code 3); starting it again (abandoned jobs were still running in it)')
  })

  it('start again a slave that crashes, unless told not to: then its code is the last', async () => {
    const crashing = standIns([1, 0])
    crashing.slaves.start()
    expect(await crashing.slaves.exited()).toBe(0)
    expect(crashing.starts()).toBe(2)
    expect(crashing.lines).toContain('[slave 1] exited (code 1); starting it again')
    const once = standIns([1, 0], { restartCrashed: false })
    once.slaves.start()
    expect(await once.slaves.exited()).toBe(1)
    expect(once.starts()).toBe(1)
  })

  it('never start again a slave that exits 2 (a user error), and tell why', async () => {
    const { slaves, fatal, starts } = standIns([2, 0])
    slaves.start()
    expect(await slaves.exited()).toBe(2)
    expect(starts()).toBe(1)
    expect(fatal).toEqual(['Local slave 1 could not start (exit code 2, see its message above)'])
  })

  it('start again a slave that exits 0 while the run still wants slaves', async () => {
    let wanted = true
    const { slaves, starts } = standIns([0, 0], {
      wanted: () => {
        const now = wanted
        wanted = false
        return now
      },
    })
    slaves.start()
    expect(await slaves.exited()).toBe(0)
    expect(starts()).toBe(2)
  })

  it('started before their master listens, wait for its address and token, handed over when it listens', async () => {
    const { slaves, lines, starts } = standIns([0], { awaitMaster: true, slave: { concurrency: 2 } })
    slaves.start()
    while (starts() < 1) await new Promise((resolve) => setTimeout(resolve, 20))
    // Asked or not yet, the slave waits: nothing printed before the address.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(lines).toEqual([])
    slaves.listening('ws://127.0.0.1:1', 's3cret')
    expect(await slaves.exited()).toBe(0)
    expect(lines).toEqual([
      `[slave 1] ${JSON.stringify({ args: ['h.mjs', '--concurrency', '2'], token: null, master: { type: 'master', host: 'ws://127.0.0.1:1', token: 's3cret' } })}`,
    ])
  })

  it('started again after their master listens, get its address on their command line and its token in TM_TOKEN', async () => {
    const { slaves, lines, starts } = standIns([1, 0], { awaitMaster: true })
    slaves.start()
    slaves.listening('ws://127.0.0.1:1', 's3cret')
    expect(await slaves.exited()).toBe(0)
    expect(starts()).toBe(2)
    expect(lines.filter((line) => line.startsWith('[slave 1] {'))).toEqual([
      `[slave 1] ${JSON.stringify({ args: ['h.mjs'], token: null, master: { type: 'master', host: 'ws://127.0.0.1:1', token: 's3cret' } })}`,
      `[slave 1] ${JSON.stringify({ args: ['h.mjs', '--host', 'ws://127.0.0.1:1'], token: 's3cret' })}`,
    ])
  })

  it('start some now and the others later: the later ones with the address, all stopped as one', async () => {
    const { slaves, lines, starts } = standIns([], { count: 2, awaitMaster: true })
    slaves.start(1)
    slaves.start(1)
    while (starts() < 1) await new Promise((resolve) => setTimeout(resolve, 20))
    slaves.listening('ws://127.0.0.1:1')
    slaves.start()
    while (lines.length < 2) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(starts()).toBe(2)
    expect(lines.sort()).toEqual([
      `[slave 1] ${JSON.stringify({ args: ['h.mjs'], token: null, master: { type: 'master', host: 'ws://127.0.0.1:1' } })}`,
      `[slave 2] ${JSON.stringify({ args: ['h.mjs', '--host', 'ws://127.0.0.1:1'], token: null })}`,
    ])
    expect(await slaves.stop()).toBe(1)
    // Stopped with slaves never started: they end with it, and none starts later.
    const partly = standIns([], { count: 3 })
    partly.slaves.start(1)
    while (partly.starts() < 1) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await partly.slaves.stop()).toBe(1)
    expect(() => partly.slaves.start()).toThrow('LocalSlaves.start() after stop(): stopped slaves are never started again')
    expect(partly.starts()).toBe(1)
  })

  it('wait for their master only when told, and then are given neither host nor token', () => {
    expect(() => new LocalSlaves({ count: 1, handler: 'h.mjs', awaitMaster: true, host: '127.0.0.1:1' })).toThrow(
      'options.awaitMaster goes without options.host and options.token: listening() gives them',
    )
    expect(() => new LocalSlaves({ count: 1, handler: 'h.mjs' }).listening('ws://127.0.0.1:1')).toThrow(
      'listening() is for local slaves started with options.awaitMaster',
    )
  })

  it('are stopped by a signal to each, and none starts again; the highest code is the exit', async () => {
    const { slaves, starts } = standIns([], { count: 2 })
    slaves.start()
    while (starts() < 2) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await slaves.stop('SIGINT')).toBe(1)
    expect(starts()).toBe(2)
    // Stopped before started: nothing to wait for.
    expect(await standIns([]).slaves.stop()).toBe(0)
  })
  it('not started: exited() resolves at once with 0; stopped: start() throws a StateError and starts none', async () => {
    const { slaves, starts } = standIns([0])
    expect(await slaves.exited()).toBe(0)
    expect(await slaves.stop()).toBe(0)
    expect(thrownBy(() => slaves.start(), StateError).message).toBe(
      'LocalSlaves.start() after stop(): stopped slaves are never started again',
    )
    expect(await slaves.exited()).toBe(0)
    expect(starts()).toBe(0)
  })
})
