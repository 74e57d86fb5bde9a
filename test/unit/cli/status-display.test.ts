import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { StatusDisplay } from '../../../src/cli/status-display.js'
import { statusLine } from '../../../src/cli/status-line.js'
import type { Master } from '../../../src/master/master.js'
import type { RunStatus } from '../../../src/master/engine/status.js'
import { startingStatus } from '../../../src/master/engine/status.js'

/** A terminal: what is written, its width, resize events. */
class Terminal extends EventEmitter {
  text = ''
  columns: number
  constructor(columns: number) {
    super()
    this.columns = columns
  }
  write(chunk: string): boolean {
    this.text += chunk
    return true
  }
  take(): string {
    const text = this.text
    this.text = ''
    return text
  }
}

function fakeMaster(status: RunStatus): Master & { current: RunStatus } {
  const master = new EventEmitter() as EventEmitter & { current: RunStatus; status(): RunStatus }
  master.current = status
  master.status = () => master.current
  return master as unknown as Master & { current: RunStatus }
}

const status = startingStatus('posts', {}, 'running')
status.run = {
  ...status.run,
  done: 30_210,
  total: 100_000,
  percent: 30.21,
  rate: 991,
  etaMs: 70_000,
  elapsedMs: 40_000,
  position: 30_000,
  last: 30_000,
  inFlight: 211,
  queued: 10_000,
}

describe('StatusDisplay on a terminal', () => {
  it('redraws in place, and after a resize erases every row the wider line now takes', () => {
    const out = new Terminal(200)
    const master = fakeMaster(status)
    const display = new StatusDisplay(master, {
      tty: true,
      interval: 10,
      out: out as unknown as NodeJS.WriteStream,
      err: out as unknown as NodeJS.WritableStream,
    })
    display.start()
    const wide = statusLine(status, 200)
    expect(wide.length).toBeGreaterThan(120)
    expect(out.take()).toBe('\r\x1b[J' + wide)
    master.emit('status', status)
    expect(out.take()).toBe('\r\x1b[J' + wide)
    // Narrower: the line drawn at 200 columns now wraps over ceil(length / 60) rows.
    out.columns = 60
    out.emit('resize')
    const rows = Math.ceil(wide.length / 60)
    expect(out.take()).toBe(`\x1b[${rows - 1}A\r\x1b[J` + statusLine(status, 60))
    display.log('slave w1:7 (10.0.0.7:1) connected (concurrency 8)')
    expect(out.take()).toBe('\r\x1b[Jslave w1:7 (10.0.0.7:1) connected (concurrency 8)\n\r\x1b[J' + statusLine(status, 60))
    display.stop()
    expect(out.take()).toBe('\r\x1b[J' + statusLine(status, 60) + '\n')
    master.emit('status', status)
    expect(out.take()).toBe('')
  })

  it('draws the slaves table under the line when asked, and moves up over all of it', () => {
    const out = new Terminal(100)
    const master = fakeMaster(status)
    const display = new StatusDisplay(master, {
      tty: true,
      interval: 10,
      out: out as unknown as NodeJS.WriteStream,
      err: out as unknown as NodeJS.WritableStream,
      slaves: true,
    })
    display.start()
    expect(out.take()).toBe('\r\x1b[J' + statusLine(status, 100) + '\nno slaves connected')
    master.emit('status', status)
    expect(out.take()).toBe('\x1b[1A\r\x1b[J' + statusLine(status, 100) + '\nno slaves connected')
    display.stop()
  })
})

describe('StatusDisplay off a terminal', () => {
  it('prints the last status as a plain line when it stops', () => {
    const out = new Terminal(80)
    const display = new StatusDisplay(fakeMaster(status), {
      tty: false,
      interval: 10,
      out: out as unknown as NodeJS.WriteStream,
      err: out as unknown as NodeJS.WritableStream,
    })
    display.start()
    display.stop()
    expect(out.take()).toBe(statusLine(status) + '\n')
  })
})
