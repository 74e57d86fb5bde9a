import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import { describe, expect, it } from 'vitest'
import { Session } from '../../../../src/master/engine/session.js'
import type { SessionState } from '../../../../src/master/engine/session.js'
import type { SlaveInfo } from '../../../../src/protocol/messages.js'

// A session's transitions, without a socket: the server calls them as frames come and go.

const INFO: SlaveInfo = { id: 'slave-id', hostname: 'worker-1', pid: 4242, concurrency: 8 }

function session(): Session {
  return new Session(7, {} as WebSocket, '10.0.0.7:40000', {} as Socket)
}

/** A session brought to `state` through its own transitions. */
function at(state: SessionState): Session {
  const s = session()
  if (state === 'awaiting-hello') return s
  if (state === 'closed') {
    s.closed()
    return s
  }
  s.authenticated(INFO)
  s.welcome(1024)
  if (state === 'draining') s.drain()
  if (state === 'closing') s.closing()
  return s
}

const STATES: SessionState[] = ['awaiting-hello', 'active', 'draining', 'closing', 'closed']

describe('Session', () => {
  it('awaits its hello at first: named by its address, no info, takes no jobs', () => {
    const s = session()
    expect(s.state).toBe('awaiting-hello')
    expect(s.info).toBeUndefined()
    expect(s.concurrency).toBe(0)
    expect(s.maxFrame).toBe(0)
    expect(s.takesJobs).toBe(false)
    expect(s.label).toBe('connection from 10.0.0.7:40000')
    expect([s.done, s.failed, s.reportedAt]).toEqual([0, 0, s.connectedAt])
  })

  it('believes what the slave says of itself once authenticated, before it is welcomed', () => {
    const s = session()
    s.authenticated(INFO)
    expect(s.info).toBe(INFO)
    expect(s.concurrency).toBe(8)
    expect(s.label).toBe('slave worker-1:4242 (10.0.0.7:40000)')
    expect(s.state).toBe('awaiting-hello')
    expect(s.takesJobs).toBe(false)
  })

  it('takes no hello info once past awaiting it', () => {
    const s = at('active')
    s.authenticated({ ...INFO, hostname: 'other' })
    expect(s.info).toBe(INFO)
  })

  it('is welcomed only from awaiting its hello: then active, taking jobs, with its frame limit', () => {
    const s = session()
    s.authenticated(INFO)
    expect(s.welcome(4096)).toBe(true)
    expect(s.state).toBe('active')
    expect(s.takesJobs).toBe(true)
    expect(s.maxFrame).toBe(4096)
    for (const state of STATES.filter((x) => x !== 'awaiting-hello')) {
      const other = at(state)
      expect(other.welcome(99)).toBe(false)
      expect(other.state).toBe(state)
    }
  })

  it('drains only when active (then takes no jobs), and says whether it did', () => {
    const s = at('active')
    expect(s.drain()).toBe(true)
    expect(s.state).toBe('draining')
    expect(s.takesJobs).toBe(false)
    expect(s.drain()).toBe(false)
    for (const state of ['awaiting-hello', 'closing', 'closed'] as const) {
      const other = at(state)
      expect(other.drain()).toBe(false)
      expect(other.state).toBe(state)
    }
  })

  it('is closing after a refusal when active or draining; otherwise its state stays', () => {
    expect(
      STATES.map((state) => {
        const s = at(state)
        s.closing()
        return s.state
      }),
    ).toEqual(['awaiting-hello', 'closing', 'closing', 'closing', 'closed'])
    expect(at('closing').takesJobs).toBe(false)
  })

  it('is closed from any state, and says whether it had been welcomed (the run knew it)', () => {
    expect(
      STATES.map((state) => {
        const s = at(state)
        const welcomed = s.closed()
        expect(s.state).toBe('closed')
        expect(s.takesJobs).toBe(false)
        return welcomed
      }),
    ).toEqual([false, true, true, true, false])
  })

  it('answers the heartbeat: a ping is due while something came since the last, else the slave is to be dropped', () => {
    const s = at('active')
    expect(s.ping()).toBe(true)
    // Nothing came: dropped at the next beat, and at every one after.
    expect(s.ping()).toBe(false)
    expect(s.ping()).toBe(false)
    s.heard()
    expect(s.ping()).toBe(true)
    s.heard()
    s.heard()
    expect(s.ping()).toBe(true)
    expect(s.ping()).toBe(false)
  })

  it('keeps the last stats report, and network bytes only when sent', () => {
    const s = at('active')
    s.report({ type: 'stats', cpu: 0.5, rss: 1000, running: 1, netIn: 10, netOut: 20 })
    expect(s.stats).toEqual({ cpu: 0.5, rss: 1000, netIn: 10, netOut: 20 })
    s.report({ type: 'stats', cpu: 0.25, rss: 2000, running: 0 })
    expect(s.stats).toEqual({ cpu: 0.25, rss: 2000, netIn: 10, netOut: 20 })
  })

  it('counts the jobs the run accepted from it and when it last reported', () => {
    const s = at('active')
    s.reported(3, 0, 1000)
    s.reported(0, 2, 2000)
    s.reported(0, 0, 3000)
    expect([s.done, s.failed, s.reportedAt]).toEqual([3, 2, 3000])
  })

  it('gives its figures for the status document from what it was told', () => {
    const s = at('active')
    s.report({ type: 'stats', cpu: 0.5, rss: 1000, running: 1, netIn: 10, netOut: 20 })
    s.reported(5, 1, s.connectedAt)
    expect(s.figures(4, s.connectedAt)).toMatchObject({
      id: 7,
      address: '10.0.0.7:40000',
      hostname: 'worker-1',
      pid: 4242,
      concurrency: 8,
      connectedAt: new Date(s.connectedAt).toISOString(),
      done: 5,
      failed: 1,
      inFlight: 4,
      cpuPercent: 50,
      rss: 1000,
      netIn: 10,
      netOut: 20,
    })
  })
})
