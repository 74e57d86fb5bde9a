import { describe, expect, expectTypeOf, it } from 'vitest'
import { Master, Slave } from '../../src/index.js'
import type { ControlChange, ControlUpdate, LogLine, MasterAddress, MasterEvents, RunStatus, SlaveEvents } from '../../src/index.js'

// The events of Master and Slave are typed by their maps (MasterEvents, SlaveEvents): a
// listener gets its payload's type without declaring it, and a wrong name or payload does not
// compile. `npm run lint` type-checks this file (tsc -p test): each @ts-expect-error below
// fails the lint once the line it marks compiles.

const source = { getJobs: () => [] }

describe('the events of a Master', () => {
  it("give each listener its payload's type", () => {
    const master = new Master({ source, key: 'events', port: 0 })
    master.on('listening', (address) => expectTypeOf(address).toEqualTypeOf<MasterAddress>())
    master.on('log', (line) => expectTypeOf(line).toEqualTypeOf<LogLine>())
    master.on('status', (status) => expectTypeOf(status).toEqualTypeOf<RunStatus>())
    master.on('control', (change) => {
      expectTypeOf(change).toEqualTypeOf<ControlChange>()
      expectTypeOf(change.change).toEqualTypeOf<ControlUpdate>()
    })
    master.on('slave-connected', (session) => expectTypeOf(session).toEqualTypeOf<MasterEvents['slave-connected'][0]>())
    expectTypeOf<MasterEvents['log']>().toEqualTypeOf<[line: LogLine]>()
    const lines: LogLine[] = []
    master.on('log', (line) => lines.push(line))
    master.emit('log', { level: 'warn', message: 'a line' })
    expect(lines).toEqual([{ level: 'warn', message: 'a line' }])
  })

  it('refuse a listener of another payload, an event of another name, and a wrong payload emitted', () => {
    const master = new Master({ source, key: 'events', port: 0 })
    // @ts-expect-error: a log line is an object ({ level, message }), not a string
    master.on('log', (line: string) => line)
    // @ts-expect-error: a status listener gets a status document, not an address
    master.once('status', (address: MasterAddress) => address)
    // @ts-expect-error: no such event
    master.on('slave-joined', () => {})
    // @ts-expect-error: a level is info or warn
    master.emit('log', { level: 'debug', message: 'x' })
    // @ts-expect-error: a change has a kind the union knows
    const change: ControlUpdate = { kind: 'faster' }
    expect(change).toBeDefined()
  })
})

describe('the events of a Slave', () => {
  it("give each listener its payload's type, and refuse another", () => {
    const slave = new Slave({ host: '127.0.0.1:1', handler: () => {} })
    slave.on('connected', (welcome) => expectTypeOf(welcome).toEqualTypeOf<{ run: string; session: number }>())
    slave.on('disconnected', (reason) => expectTypeOf(reason).toEqualTypeOf<string>())
    slave.on('log', (line) => expectTypeOf(line).toEqualTypeOf<LogLine>())
    expectTypeOf<SlaveEvents['log']>().toEqualTypeOf<MasterEvents['log']>()
    // @ts-expect-error: the reason of a disconnection is a string
    slave.on('disconnected', (reason: number) => reason)
    // @ts-expect-error: a master's event, not a slave's
    slave.on('status', () => {})
    const reasons: string[] = []
    slave.on('disconnected', (reason) => reasons.push(reason))
    slave.emit('disconnected', 'gone')
    expect(reasons).toEqual(['gone'])
  })
})
