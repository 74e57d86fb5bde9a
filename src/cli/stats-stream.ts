import { closeSync, openSync, writeSync } from 'node:fs'
import { OptionError } from '../errors.js'
import type { ControlChange, Master } from '../master/master.js'

/**
 * `--stats <file|->`: the master's status document as one JSON object a line, every
 * `interval` seconds, ready to plot; and each change of the controls as a line of its own,
 * when it happens: `{ time, control, source, controls }` (`control` says what changed in
 * words, `source` where it came from: `flag`, `checkpoint`, `http` with the `address`,
 * `throttle`, `api`). A file is appended to (a resumed run goes on in the
 * same file) with a synchronous write, so the last line is out before the process exits.
 */
export class StatsStream {
  readonly #master: Master
  readonly #fd: number | undefined
  readonly #out: NodeJS.WritableStream
  readonly #interval: number
  #timer: NodeJS.Timeout | undefined
  #closed = false

  /** Opens `target` (`-` is `out`); throws an {@link OptionError} naming --stats if it cannot. */
  constructor(master: Master, target: string, interval: number, out: NodeJS.WritableStream) {
    if (!(interval > 0)) throw new OptionError(`--stats-interval must be a number of seconds > 0, got ${interval}`)
    this.#master = master
    this.#out = out
    this.#interval = interval
    if (target !== '-') {
      try {
        this.#fd = openSync(target, 'a')
      } catch (error) {
        throw new OptionError(`Cannot open --stats '${target}': ${(error as Error).message}`)
      }
    }
    master.on('control', (change: ControlChange) => this.#line(JSON.stringify({ time: change.time, control: change.changed, source: change.source, controls: change.controls }) + '\n'))
  }

  /** Writes a line now and every interval. */
  start(): void {
    this.#write()
    this.#timer = setInterval(() => this.#write(), this.#interval * 1000)
    this.#timer.unref()
  }

  /** Writes the last document and closes the file. */
  stop(): void {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer)
      this.#timer = undefined
      this.#write()
    }
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#closed = true
  }

  #write(): void {
    this.#line(JSON.stringify(this.#master.status()) + '\n')
  }

  #line(line: string): void {
    if (this.#closed) return
    if (this.#fd !== undefined) writeSync(this.#fd, line)
    else this.#out.write(line)
  }
}
