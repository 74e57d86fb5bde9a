// Every callback of the user's modules throwing or returning what it should not: the
// throttle check, the generator, key(), total(), setup, teardown and handleBatch. The
// master and the slave print one line (no stack, no 17 MB) and go on, or stop cleanly
// with the lock released, as each callback calls for.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  MASTER_BIN,
  SLAVE_BIN,
  fixture,
  masterArgs,
  recordedKeys,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
} from '../helpers/proc.js'
import type { Proc } from '../helpers/proc.js'
import { expectEachKeyAtLeastOnce, killHard, linesMatching, readFailedLog, tearDown, until } from '../helpers/reliability.js'

afterEach(tearDown)

const ODD = fixture('odd-throws.mjs')
const RECORD = fixture('record.mjs')

/** No line of the process's output is a stack frame or longer than a sane log line. */
function expectNoDump(proc: Proc): void {
  const out = `${proc.stdout}\n${proc.stderr}`
  expect(out).not.toMatch(/^\s+at /m)
  expect(
    out
      .split('\n')
      .filter((line) => line.length > 1000)
      .map((line) => line.slice(0, 100)),
  ).toEqual([])
}

/** What each odd kind reads as, in one line. */
const SAID: Record<string, RegExp> = {
  'message-500': /^500 \(at test\/fixtures\/odd-throws\.mjs:\d+\)$/,
  'null-proto': /^\[object Object\]$/,
  'bad-tostring': /^\[object Object\]$/,
  // V8 formats a stack when it is first read, from the message: this one has none.
  'bad-message': /^Error whose message cannot be read$/,
  symbol: /^Symbol\(odd\)$/,
  'revoked-proxy': /^a value that cannot be printed$/,
  'huge-message': /^huge \(at test\/fixtures\/odd-throws\.mjs:\d+\)$/,
}

/** The text after `prefix` on the one line of `text` that has it. */
function after(text: string, prefix: string): string {
  const lines = linesMatching(text, new RegExp(prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
  expect(lines, text.slice(0, 2000)).toHaveLength(1)
  return lines[0].slice(lines[0].indexOf(prefix) + prefix.length)
}

describe('a throttle check that throws an odd value', () => {
  it.each(['message-500', 'null-proto', 'bad-tostring', 'reject-null-proto', 'symbol', 'revoked-proxy', 'huge-message'])(
    '%s: holds dispatch with one line, then the run completes',
    async (kind) => {
      const box = sandbox({ TM_ODD_THROTTLE: kind })
      const master = await run(
        MASTER_BIN,
        [
          ODD,
          'n=20',
          ...masterArgs(box, 'throttle'),
          ...spawnArgs(1),
          '--throttle',
          `${ODD}:throttle`,
          '--throttle-interval',
          '0.05',
          '--status-interval',
          '60',
        ],
        { env: box.env },
      )
      expect(master.exit, master.stderr).toEqual({ code: 0, signal: null })
      expect(master.stdout).toMatch(/^Run 'throttle' complete: 20 jobs \(20 done, 0 failed\)/m)
      expect(after(master.stdout + master.stderr, 'Controls: throttled: throttle check threw: ')).toMatch(
        SAID[kind.replace(/^reject-/, '')],
      )
      expectNoDump(master)
    },
    60_000,
  )
})

/** A callback whose throw stops the run: its variable in odd-throws.mjs, a kind, and what the master's one line starts with. */
const STOPPERS: [env: string, kind: string, said: string][] = [
  ...['null-proto', 'symbol', 'revoked-proxy', 'huge-message'].map((kind): [string, string, string] => [
    'TM_ODD_GENERATOR',
    kind,
    'The generator threw: ',
  ]),
  ...['null-proto', 'message-500', 'bad-message'].map((kind): [string, string, string] => [
    'TM_ODD_KEY',
    kind,
    'key(job) threw for job #5: ',
  ]),
]

describe('a generator or a key() that throws an odd value', () => {
  it.each(STOPPERS)(
    '%s=%s: the master stops with one line and releases its lock',
    async (env, kind, said) => {
      const box = sandbox({ [env]: kind })
      const master = await run(MASTER_BIN, [ODD, 'n=20', ...masterArgs(box, 'stops'), ...spawnArgs(1), '--status-interval', '60'], {
        env: box.env,
      })
      expect(master.exit, master.stderr).toEqual({ code: 1, signal: null })
      expect(after(master.stderr, `tm-master: ${said}`)).toMatch(SAID[kind])
      expect(existsSync(join(box.stateDir, 'stops.lock'))).toBe(false)
      expectNoDump(master)
    },
    60_000,
  )
})

describe('bigint keys', () => {
  const BIGINT_KEYS = fixture('bigint-keys.mjs')
  it.each(['top', 'bottom'])(
    'at the %s of 64 bits run, are journalled and resume',
    async (base) => {
      const box = sandbox({ TM_RECORD_DELAY_MS: '20' })
      const args = [BIGINT_KEYS, 'n=200', `base=${base}`, ...masterArgs(box, 'big'), '--status-interval', '60']
      const { master: first, host } = await startMaster(args, { env: box.env })
      const slave = startSlave([RECORD, '--host', host], { env: box.env })
      // Killed half way, with completions in its journal: the restart reads them back.
      await until('20 jobs done', () => recordedKeys(box.records).length >= 20)
      await killHard(first)
      await killHard(slave)
      const second = await run(MASTER_BIN, [...args, ...spawnArgs(1, RECORD)], { env: box.env })
      expect(second.exit, second.stderr).toEqual({ code: 0, signal: null })
      expect(second.stdout).toMatch(/^Resuming 'big' at /m)
      expect(second.stdout).toMatch(/^Run 'big' complete/m)
      expectEachKeyAtLeastOnce(box.records, 200)
    },
    90_000,
  )

  it('beyond 64 bits: the master stops at the first job with one line, before anything is journalled, and releases its lock', async () => {
    const box = sandbox()
    const master = await run(
      MASTER_BIN,
      [BIGINT_KEYS, 'n=20', 'base=beyond', ...masterArgs(box, 'beyond'), ...spawnArgs(1, RECORD), '--status-interval', '60'],
      { env: box.env },
    )
    expect(master.exit, master.stderr).toEqual({ code: 1, signal: null })
    expect(master.stderr).toMatch(
      /^tm-master: key\(job\) returned a bigint beyond 64 bits for job #0; it must return a finite number, a string of at most 8192 characters or a 64-bit bigint$/m,
    )
    expect(existsSync(join(box.stateDir, 'beyond.lock'))).toBe(false)
    expectNoDump(master)
  }, 60_000)
})

describe('a module whose top-level await never settles', () => {
  it('stops tm-master and tm-slave with one line and exit 1, not a silent exit 0', async () => {
    const box = sandbox()
    const NEVER = fixture('never-settles.mjs')
    const said = /^tm-(master|slave): stopped: it was waiting on a promise that can never settle .+$/m
    const master = await run(MASTER_BIN, [NEVER, ...masterArgs(box, 'never')], { env: box.env })
    expect(master.exit, master.stderr).toEqual({ code: 1, signal: null })
    expect(master.stderr).toMatch(said)
    const slave = await run(SLAVE_BIN, [NEVER, '--host', '127.0.0.1:1'], { env: box.env })
    expect(slave.exit, slave.stderr).toEqual({ code: 1, signal: null })
    expect(slave.stderr).toMatch(said)
    expectNoDump(master)
    expectNoDump(slave)
  }, 60_000)
})

describe('a total() that throws', () => {
  it('is one warning; the run completes without a total', async () => {
    const box = sandbox({ TM_ODD_TOTAL: 'null-proto' })
    const master = await run(MASTER_BIN, [ODD, 'n=20', ...masterArgs(box, 'total'), ...spawnArgs(1), '--status-interval', '60'], {
      env: box.env,
    })
    expect(master.exit, master.stderr).toEqual({ code: 0, signal: null })
    expect(after(master.stdout + master.stderr, 'total() failed, running without a total: ')).toBe('[object Object]')
    expectNoDump(master)
  }, 60_000)
})

describe("a handler module's setup", () => {
  it.each(['null-proto', 'revoked-proxy', 'huge-message'])(
    'that throws %s: the slave exits 2 with one line and takes no job',
    async (kind) => {
      const box = sandbox({ TM_ODD_SETUP: kind })
      const { host } = await startMaster([ODD, 'n=10', ...masterArgs(box, 'setup'), '--quiet'], { env: box.env })
      const slave = startSlave([`${ODD}:handleJob`, '--host', host, '--quiet'], { env: box.env })
      expect(await slave.exited).toEqual({ code: 2, signal: null })
      expect(slave.stderr).toMatch(/^tm-slave: The handler's setup failed: [^\n]+\n$/)
      expect(after(slave.stderr, "tm-slave: The handler's setup failed: ")).toMatch(SAID[kind])
      expect(existsSync(join(box.records, `record-${slave.child.pid}.txt`))).toBe(false)
    },
    60_000,
  )

  it('that never finishes: the slave gives up after --setup-timeout with one line naming the module, and exits 2', async () => {
    const box = sandbox({ TM_ODD_SETUP: 'hang' })
    const { host } = await startMaster([ODD, 'n=10', ...masterArgs(box, 'hang'), '--quiet'], { env: box.env })
    const slave = startSlave([`${ODD}:handleJob`, '--host', host, '--quiet', '--setup-timeout', '0.5'], { env: box.env })
    expect(await slave.exited).toEqual({ code: 2, signal: null })
    expect(slave.stderr).toBe(
      `tm-slave: The handler's setup failed: did not finish within 0.5 s (${ODD}); raise --setup-timeout if it needs longer\n`,
    )
  }, 60_000)
})

describe("a handler module's teardown", () => {
  it.each(['null-proto', 'hang'])(
    'that %s: one warning, and the slave exits 0 at the end of the run',
    async (kind) => {
      const box = sandbox({ TM_ODD_TEARDOWN: kind })
      const { master, host } = await startMaster([ODD, 'n=10', ...masterArgs(box, 'teardown'), '--quiet'], { env: box.env })
      const slave = startSlave([`${ODD}:handleJob`, '--host', host, '--quiet', '--setup-timeout', '0.5'], { env: box.env })
      expect(await master.exited, master.stderr).toEqual({ code: 0, signal: null })
      expect(await slave.exited, slave.stderr).toEqual({ code: 0, signal: null })
      expect(slave.stderr).toMatch(
        kind === 'hang'
          ? /^tm-slave\[\d+\]: The handler's teardown failed: did not finish within 0\.5 s \(.*odd-throws\.mjs\)\n$/
          : /^tm-slave\[\d+\]: The handler's teardown failed: \[object Object\]\n$/,
      )
      expectEachKeyAtLeastOnce(box.records, 10)
    },
    60_000,
  )
})

describe('a handleBatch that returns neither nothing nor an array of failures', () => {
  it.each(['object', 'string'])(
    'returning a %s fails the jobs of the call with a message saying what it must return',
    async (shape) => {
      const box = sandbox({ TM_ODD_BATCH: shape })
      const master = await run(
        MASTER_BIN,
        [ODD, 'n=10', ...masterArgs(box, 'batch'), ...spawnArgs(1, `${ODD}:handleBatch`), '--retries', '0', '--status-interval', '60'],
        { env: box.env },
      )
      expect(master.exit, master.stderr).toEqual({ code: 1, signal: null })
      expect(master.stdout).toMatch(/^Run 'batch' complete: 10 jobs \(0 done, 10 failed\)/m)
      const messages = new Set(readFailedLog(box.stateDir, 'batch').map((line) => line.error.message))
      expect([...messages]).toEqual([
        `handleBatch returned ${shape === 'object' ? 'an object' : 'a string'}; it must return nothing (every job done) or an array of { index, error } or { job, error } (those jobs failed)`,
      ])
      expectNoDump(master)
    },
    60_000,
  )
})
