import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const MASTER_BIN = join(ROOT, 'bin/tm-master.js')
export const SLAVE_BIN = join(ROOT, 'bin/tm-slave.js')
export const CTL_BIN = join(ROOT, 'bin/tm-ctl.js')
/** Path of a file in test/fixtures. */
export const fixture = (name: string): string => join(ROOT, 'test/fixtures', name)

const dirs: string[] = []
/** Processes started and not yet exited, for {@link stopAll}. */
const live = new Set<Proc>()

/** A fresh temp dir, removed by {@link cleanTempDirs}. */
export function tempDir(prefix = 'tm-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

export function cleanTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** How a process ended. */
export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** How a {@link Proc} is started. */
export interface ProcOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  wrapper?: string[]
  stdout?: number
  stderr?: number
}

/**
 * A real child process with its output collected, and promises to wait on what it
 * prints and on its exit (no sleeps).
 */
export class Proc {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<Exit>
  #waiters: { pattern: RegExp; stream: 'stdout' | 'stderr' | 'any'; resolve: (m: RegExpMatchArray) => void }[] = []

  /**
   * @param options.wrapper a command that runs node itself (`['ip', 'netns', 'exec', ns]`): it must exec node, so the child's pid is node's
   * @param options.stdout, options.stderr a file descriptor the child writes to instead of a pipe read into {@link stdout} / {@link stderr}
   */
  constructor(bin: string, args: string[], options: ProcOptions = {}) {
    const [command, ...before] = [...(options.wrapper ?? []), process.execPath]
    this.child = spawn(command, [...before, bin, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', options.stdout ?? 'pipe', options.stderr ?? 'pipe'],
    })
    this.child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text
      this.#check()
    })
    this.child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text
      this.#check()
    })
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })))
    live.add(this)
    void this.exited.then(() => live.delete(this))
  }

  /** Resolves with the first match of `pattern` in the output (already printed or to come). */
  waitFor(pattern: RegExp | string, stream: 'stdout' | 'stderr' | 'any' = 'any'): Promise<RegExpMatchArray> {
    const regex = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern
    return new Promise((resolve, reject) => {
      this.#waiters.push({ pattern: regex, stream, resolve })
      this.#check()
      void this.exited.then((exit) => {
        // Give the last output a chance to be matched first.
        setImmediate(() =>
          reject(
            new Error(
              `process exited (${exit.code ?? exit.signal}) before printing ${regex}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
            ),
          ),
        )
      })
    })
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      const text = w.stream === 'stdout' ? this.stdout : w.stream === 'stderr' ? this.stderr : this.stdout + '\n' + this.stderr
      const match = text.match(w.pattern)
      if (match) w.resolve(match)
      return !match
    })
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal)
  }
}

/** Starts `tm-master` with `args` and waits until it listens; resolves with the process and its host:port. */
export async function startMaster(args: string[], options: ProcOptions = {}): Promise<{ master: Proc; host: string }> {
  const master = new Proc(MASTER_BIN, args, options)
  const match = await master.waitFor(/Taskmaster server running on '([^']+)'/)
  return { master, host: match[1] }
}

/** Starts `tm-slave` with `args`. */
export function startSlave(args: string[], options: ProcOptions = {}): Proc {
  return new Proc(SLAVE_BIN, args, options)
}

/** Runs a command to its end; resolves with the process (output collected) and its exit. */
export async function run(bin: string, args: string[], options: ProcOptions = {}): Promise<Proc & { exit: Exit }> {
  const proc = new Proc(bin, args, options)
  const exit = await proc.exited
  return Object.assign(proc, { exit })
}

/**
 * Keys recorded by the `record` handler fixture: one file per slave process in `dir`,
 * one key a line. Returns every line of every file (duplicates kept).
 */
export function recordedKeys(dir: string): string[] {
  const keys: string[] = []
  for (const file of readdirSync(dir)) {
    if (!file.startsWith('record-')) continue
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) if (line !== '') keys.push(line)
  }
  return keys
}

/** Counts of each key. */
export function tally(keys: string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1)
  return counts
}

/**
 * Ends every process a test started and left running (for afterEach): SIGTERM, so a
 * master stops its local slaves and `tm-slave --procs` its children, then SIGKILL
 * for one that has not exited within `graceMs`.
 */
export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.all(
    [...live].map(async (proc) => {
      proc.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)))
      if ((await Promise.race([proc.exited, late])) === 'late') {
        proc.kill('SIGKILL')
        await proc.exited
      }
      clearTimeout(timer)
    }),
  )
}

/** For afterEach: {@link stopAll}, then {@link cleanTempDirs}. */
export async function cleanUp(): Promise<void> {
  await stopAll()
  cleanTempDirs()
}

/** A normal exit. */
export const EXIT_OK: Exit = { code: 0, signal: null }

/** Where a test keeps a run's state and its handler's records, and the env that points the record handler there. */
export interface Sandbox {
  stateDir: string
  records: string
  env: NodeJS.ProcessEnv
}

/** A fresh {@link Sandbox} in a temp dir; `env` is added to the processes' environment. */
export function sandbox(env: NodeJS.ProcessEnv = {}): Sandbox {
  const dir = tempDir()
  const records = join(dir, 'records')
  mkdirSync(records)
  return { stateDir: join(dir, 'state'), records, env: { TM_RECORD_DIR: records, ...env } }
}

/** tm-master options of run `key` in the sandbox, listening on a free port of 127.0.0.1. */
export function masterArgs(box: Sandbox, key: string): string[] {
  return ['--key', key, '--state-dir', box.stateDir, '--host', '127.0.0.1:0']
}

/** tm-master options that start `count` local slaves running the `record` fixture (or `handler`). */
export function spawnArgs(count: number, handler = fixture('record.mjs')): string[] {
  return ['--spawn', String(count), '--handler', handler]
}

/** A checkpoint file as the tests read it. */
type CheckpointFile = Record<string, unknown> & { complete: boolean; counts: { done: number; failed: number } }

/** The checkpoint file of run `key`, parsed. */
export function readCheckpoint(box: Sandbox, key: string): CheckpointFile {
  return JSON.parse(readFileSync(join(box.stateDir, `${key}.json`), 'utf8')) as CheckpointFile
}

/** The record files in `dir` (one per slave process that ran a job). */
export function recordFiles(dir: string): string[] {
  return readdirSync(dir).filter((file) => file.startsWith('record-'))
}

/** Asserts the recorded keys are exactly 0..n-1, each recorded `times` times. */
export function expectEachKeyRan(dir: string, n: number, times = 1): void {
  const counts = tally(recordedKeys(dir))
  const wrong: string[] = []
  for (let id = 0; id < n; id++) {
    const count = counts.get(String(id)) ?? 0
    if (count !== times) wrong.push(`${id} ran ${count} times`)
    counts.delete(String(id))
  }
  expect(wrong.slice(0, 20), `${wrong.length} keys not run exactly ${times} times`).toEqual([])
  expect([...counts.keys()].slice(0, 20), 'keys recorded that the generator does not yield').toEqual([])
}

/** Asserts a command failed with bad usage: exit 2, nothing on stdout, one line on stderr matching every pattern, no stack. */
export function expectUsageError(proc: Proc & { exit: Exit }, ...patterns: RegExp[]): void {
  const lines = proc.stderr.split('\n').filter((line) => line.trim() !== '')
  expect(lines, `stderr:\n${proc.stderr}`).toHaveLength(1)
  expect(proc.stderr).not.toContain('    at ')
  for (const pattern of patterns) expect(lines[0]).toMatch(pattern)
  expect(proc.stdout).toBe('')
  expect(proc.exit).toEqual({ code: 2, signal: null })
}
