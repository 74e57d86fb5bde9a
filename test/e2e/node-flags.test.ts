// The master's V8 flags stay the master's: slaves run the user's handler under Node's
// defaults, unless the user starts tm-slave under flags of their own.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NODE_FLAGS } from '../../src/cli/node-flags.js'
import { EXIT_OK, MASTER_BIN, Proc, SLAVE_BIN, cleanUp, fixture, masterArgs, sandbox, startMaster } from '../helpers/proc.js'

const RANGE = fixture('range.mjs')
const EXEC_ARGV = fixture('exec-argv.mjs')

afterEach(cleanUp)

/** What each slave process that ran a job records: its node flags and its parent's pid. */
interface SlaveProcess {
  execArgv: string[]
  ppid: number
}

/** The record of each slave process that ran a job. */
function slaveProcesses(dir: string): SlaveProcess[] {
  return readdirSync(dir)
    .filter((file) => file.startsWith('argv-'))
    .map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as SlaveProcess)
}

describe('node flags', () => {
  it('local slaves of a master started with its flags (--spawn) run under Node defaults', async () => {
    const box = sandbox()
    // Under NODE_FLAGS, as the tm-master shebang starts it.
    const master = new Proc(
      NODE_FLAGS[0],
      [...NODE_FLAGS.slice(1), MASTER_BIN, RANGE, 'n=4', ...masterArgs(box, 'flags'), '--spawn', '2', '--handler', EXEC_ARGV, '--quiet'],
      { env: box.env },
    )
    expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    const flags = slaveProcesses(box.records).map((slave) => slave.execArgv)
    expect(flags.length).toBeGreaterThan(0)
    expect(flags).toEqual(flags.map(() => []))
  })

  it('tm-slave --procs passes the flags the user started it with to its children', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, 'n=200', ...masterArgs(box, 'procs'), '--quiet'], { env: box.env })
    const slave = new Proc('--max-semi-space-size=4', [SLAVE_BIN, EXEC_ARGV, '--host', host, '--procs', '2', '--concurrency', '4'], {
      env: box.env,
    })
    expect(await slave.exited, slave.stderr).toEqual(EXIT_OK)
    expect(await master.exited).toEqual(EXIT_OK)
    // The jobs ran in children of the tm-slave started under the flag (not in it), each
    // under that flag.
    const children = slaveProcesses(box.records)
    expect(children.length).toBeGreaterThan(0)
    expect(children).toEqual(children.map(() => ({ execArgv: ['--max-semi-space-size=4'], ppid: slave.child.pid })))
    expect(NODE_FLAGS).toContain('--max-semi-space-size=4')
  })
})
