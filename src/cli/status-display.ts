import type { Master, RunStatus } from '../master/master.js'
import { printable } from './log-format.js'
import { slavesTable, statusLine } from './status-line.js'

/** Options of the status display. */
export interface StatusDisplayOptions {
  /** Redraw in place (a terminal); else print plain lines. */
  tty: boolean
  /** Seconds between plain lines when not on a terminal. */
  interval: number
  out: NodeJS.WriteStream | NodeJS.WritableStream
  err: NodeJS.WritableStream
  /** Show the slaves table under the status line. @default false */
  slaves?: boolean
  /** On a terminal, a TTY stdin: the key `s` toggles the slaves table. */
  input?: NodeJS.ReadStream | undefined
  /** How a plain line is written (not on a terminal): as it is, or as a JSON log line (--log-format json). @default as it is */
  format?: (line: string) => string
}

/** Erase from the cursor to the end of the screen. */
const ERASE_DOWN = '\x1b[J'
/** The key that toggles the slaves table. */
const TOGGLE_KEY = 's'
/** Ctrl-C as a raw terminal sends it: raw mode turns off the terminal's own SIGINT. */
const CTRL_C = '\x03'

/**
 * The master's live status: on a terminal a block (the status line, and the slaves table
 * when asked for) redrawn in place from each status document and on resize, fitted to the
 * terminal's width; otherwise plain lines every `interval` seconds with the same fields.
 * It reads the master's status document only: it never computes a figure of its own.
 */
export class StatusDisplay {
  readonly #master: Master
  readonly #options: StatusDisplayOptions
  #slaves: boolean
  #timer: NodeJS.Timeout | undefined
  #started = false
  /** Lengths of the lines drawn last (terminal): what a redraw erases. */
  #drawn: number[] = []
  readonly #onStatus = (status: RunStatus): void => this.#draw(status)
  readonly #onResize = (): void => this.#draw(this.#master.status())
  readonly #onKey = (data: Buffer | string): void => this.#key(String(data))

  constructor(master: Master, options: StatusDisplayOptions) {
    this.#master = master
    this.#options = options
    this.#slaves = options.slaves === true
  }

  /** Starts drawing (terminal) or printing (otherwise). */
  start(): void {
    this.#started = true
    if (this.#options.tty) {
      this.#master.on('status', this.#onStatus)
      const out = this.#options.out as NodeJS.WriteStream
      out.on('resize', this.#onResize)
      const input = this.#options.input
      if (input?.isTTY === true) {
        input.setRawMode(true)
        input.on('data', this.#onKey)
        input.resume()
      }
      this.#draw(this.#master.status())
    } else {
      this.#timer = setInterval(() => this.#print(), this.#options.interval * 1000)
      this.#timer.unref()
    }
  }

  /**
   * A log line that does not break the status line. Every line this display writes goes
   * through {@link printable}: what users named (hosts, keys, errors, reasons) cannot forge
   * a line or a terminal escape.
   */
  log(line: string): void {
    const message = printable(line)
    if (this.#options.tty && this.#started) {
      this.#options.out.write(this.#erase() + message + '\n')
      this.#drawn = []
      this.#draw(this.#master.status())
    } else {
      this.#options.err.write(message + '\n')
    }
  }

  /** Draws or prints the last status and stops. */
  stop(): void {
    if (!this.#started) return
    this.#started = false
    if (this.#timer) clearInterval(this.#timer)
    if (this.#options.tty) {
      this.#master.off('status', this.#onStatus)
      ;(this.#options.out as NodeJS.WriteStream).off('resize', this.#onResize)
      const input = this.#options.input
      if (input?.isTTY === true) {
        input.off('data', this.#onKey)
        input.setRawMode(false)
        input.pause()
      }
      this.#draw(this.#master.status(), true)
      this.#options.out.write('\n')
    } else {
      this.#print()
    }
  }

  #key(text: string): void {
    if (text.includes(CTRL_C)) process.kill(process.pid, 'SIGINT')
    if (text.includes(TOGGLE_KEY)) {
      this.#slaves = !this.#slaves
      this.#draw(this.#master.status())
    }
  }

  #columns(): number {
    return (this.#options.out as NodeJS.WriteStream).columns || 80
  }

  /**
   * Moves to the start of the block drawn last and erases it. Rows are counted at today's
   * width: a terminal that reflows on resize wraps a line drawn wider over several rows.
   */
  #erase(): string {
    const columns = this.#columns()
    let rows = 0
    for (const length of this.#drawn) rows += Math.max(1, Math.ceil(length / columns))
    return (rows > 1 ? `\x1b[${rows - 1}A` : '') + '\r' + ERASE_DOWN
  }

  #draw(status: RunStatus, force = false): void {
    if (!this.#started && !force) return
    const columns = this.#columns()
    const lines = [printable(statusLine(status, columns))]
    if (this.#slaves) for (const line of slavesTable(status.slaves, columns - 1)) lines.push(printable(line))
    this.#options.out.write(this.#erase() + lines.join('\n'))
    this.#drawn = lines.map((line) => line.length)
  }

  #print(): void {
    const status = this.#master.status()
    const format = this.#options.format ?? ((line: string): string => line)
    let text = printable(format(statusLine(status))) + '\n'
    if (this.#slaves) for (const line of slavesTable(status.slaves)) text += printable(format('  ' + line)) + '\n'
    this.#options.out.write(text)
  }
}
