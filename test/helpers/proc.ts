import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const MASTER_BIN = join(ROOT, 'bin/tm-master.js')
export const SLAVE_BIN = join(ROOT, 'bin/tm-slave.js')
/** Path of a file in test/fixtures. */
export const fixture = (name: string): string => join(ROOT, 'test/fixtures', name)

const dirs: string[] = []

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

  constructor(bin: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text
      this.#check()
    })
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text
      this.#check()
    })
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })))
  }

  /** Resolves with the first match of `pattern` in the output (already printed or to come). */
  waitFor(pattern: RegExp | string, stream: 'stdout' | 'stderr' | 'any' = 'any'): Promise<RegExpMatchArray> {
    const regex = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern
    return new Promise((resolve, reject) => {
      this.#waiters.push({ pattern: regex, stream, resolve })
      this.#check()
      void this.exited.then((exit) => {
        // Give the last output a chance to be matched first.
        setImmediate(() => reject(new Error(`process exited (${exit.code ?? exit.signal}) before printing ${regex}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`)))
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
export async function startMaster(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ master: Proc; host: string }> {
  const master = new Proc(MASTER_BIN, args, options)
  const match = await master.waitFor(/Taskmaster server running on '([^']+)'/)
  return { master, host: match[1]! }
}

/** Starts `tm-slave` with `args`. */
export function startSlave(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  return new Proc(SLAVE_BIN, args, options)
}

/** Runs a command to its end; resolves with the process (output collected) and its exit. */
export async function run(bin: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Proc & { exit: Exit }> {
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
