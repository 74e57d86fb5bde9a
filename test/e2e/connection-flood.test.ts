// Clients without the token cannot stop a run by exhausting the master's file
// descriptors: unauthenticated connections are capped (the oldest closed first), the
// run store keeps the descriptors it needs, and the master says so once in its log.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { MASTER_BIN, expectEachKeyRan, masterArgs, sandbox, startSlave } from '../helpers/proc.js'
import { RANGE, RECORD, linesMatching, tearDown, until } from '../helpers/reliability.js'

const sockets: Socket[] = []
const children: ChildProcess[] = []

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await tearDown()
})

/** A master started by bash with `ulimit -n <limit>` (Node cannot lower its own limit). */
function masterUnderUlimit(
  limit: number,
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const quoted = [process.execPath, MASTER_BIN, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ')
  const child = spawn('/bin/bash', ['-c', `ulimit -n ${limit} && exec ${quoted}`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let text = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => text, exited }
}

/** Opens a silent TCP connection; resolves once it is connected or refused. */
function silentSocket(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    sockets.push(socket)
    socket.once('connect', () => resolve())
    socket.once('error', () => resolve())
    socket.once('close', () => resolve())
  })
}

describe('a flood of connections without the token', () => {
  it('1,000 silent sockets against ulimit -n 256: the run completes, the master exits 0 and says so once', async () => {
    const box = sandbox()
    const N = 300
    const master = masterUnderUlimit(256, [RANGE, `n=${N}`, ...masterArgs(box, 'flood'), '--token', 's3cret', '--quiet'], box.env)
    const host = await until('the master to listen', () => /Taskmaster server running on '([^']+)'/.exec(master.output())?.[1], 60_000)
    const port = Number(host.split(':').pop())

    // Every socket connected (or refused) before the slave comes: the slave's connection is
    // the newest, as it would be after a flood.
    await Promise.all(Array.from({ length: 1000 }, () => silentSocket(port)))
    const slave = startSlave([RECORD, '--host', host, '--token', 's3cret'], { env: box.env })

    const [code, slaveExit] = await Promise.all([master.exited, slave.exited])
    expect(code, master.output()).toBe(0)
    expect(slaveExit, slave.stderr).toEqual({ code: 0, signal: null })
    expectEachKeyRan(box.records, N)
    expect(master.output()).not.toMatch(/EMFILE|Cannot write/)
    expect(linesMatching(master.output(), /^Too many connections without a hello/), master.output()).toHaveLength(1)
  })
})
