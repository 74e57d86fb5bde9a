import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs'
import { OptionError } from '../errors.js'
import type { Master } from '../master/master.js'
import type { Writable } from 'node:stream'
import { outputFailed } from './optional-output.js'

/**
 * `--stats <file|->`: the master's status document as one JSON object a line, every
 * `interval` seconds, ready to plot; and each change of the controls as a line of its own,
 * when it happens: `{ time, control, change, source, controls }` (`control` says what changed
 * in words, `change` what changed as a value (`{ kind, ... }`, a ControlUpdate), `source`
 * where it came from: `flag`, `checkpoint`, `http` with the `address`, `throttle`, `api`). A file is appended to (a resumed run goes on in the
 * same file) with a synchronous write, so the last line is out before the process exits.
 *
 * An optional output: a write that fails (a full disk) is said once through `report`, the
 * line it cut short is taken back (the file keeps whole lines) and the stream stops; the
 * run goes on. On stdout (`-`), a failure is said by the guard of stdout (see
 * keepStdioOptional) and the stream stops too.
 */
export class StatsStream {
  readonly #master: Master
  readonly #target: string
  readonly #fd: number | undefined
  /** Bytes in the file after the last whole line written: where a cut line is taken back to. */
  #size = 0
  readonly #out: NodeJS.WritableStream
  readonly #interval: number
  readonly #report: (message: string) => void
  #timer: NodeJS.Timeout | undefined
  #closed = false

  /**
   * Opens `target` (`-` is `out`); throws an {@link OptionError} naming --stats if it cannot.
   * `report` is told, once, when writing fails later.
   */
  constructor(master: Master, target: string, interval: number, out: NodeJS.WritableStream, report: (message: string) => void) {
    if (!(interval > 0)) throw new OptionError(`--stats-interval must be a number of seconds > 0, got ${interval}`)
    this.#master = master
    this.#target = target
    this.#out = out
    this.#interval = interval
    this.#report = report
    if (target !== '-') {
      try {
        this.#fd = openSync(target, 'a')
        this.#size = fstatSync(this.#fd).size
      } catch (error) {
        throw new OptionError(`Cannot open --stats '${target}': ${(error as Error).message}`)
      }
    }
    master.on('control', (c) =>
      this.#line(JSON.stringify({ time: c.time, control: c.changed, change: c.change, source: c.source, controls: c.controls }) + '\n'),
    )
  }

  /** Writes a line now and every interval. */
  start(): void {
    this.#write()
    this.#timer = setInterval(() => this.#write(), this.#interval * 1000)
    this.#timer.unref()
  }

  /** Writes the last document and closes the file. */
  stop(): void {
    if (this.#timer !== undefined) this.#write()
    this.#close()
  }

  #write(): void {
    this.#line(JSON.stringify(this.#master.status()) + '\n')
  }

  #line(line: string): void {
    if (this.#closed) return
    if (this.#fd === undefined) {
      if ((this.#out as Partial<Writable>).destroyed === true) this.#close()
      else this.#out.write(line)
      return
    }
    const bytes = Buffer.from(line)
    let written = 0
    try {
      // writeSync may write part of a line (a disk filling up): the rest is written next, or fails.
      while (written < bytes.length) written += writeSync(this.#fd, bytes, written)
      this.#size += written
    } catch (error) {
      if (written > 0) ignoreError(() => ftruncateSync(this.#fd!, this.#size))
      this.#close()
      this.#report(outputFailed(`--stats '${this.#target}'`, error))
    }
  }

  #close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#fd !== undefined && !this.#closed) ignoreError(() => closeSync(this.#fd!))
    this.#closed = true
  }
}

/** Runs `fn`, whose failure changes nothing (tidying a stream that failed already). */
function ignoreError(fn: () => void): void {
  try {
    fn()
  } catch {
    // The stream is given up on either way.
  }
}
