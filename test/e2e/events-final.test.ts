import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, cleanUp, fixture, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { followEvents } from '../helpers/poll.js'
import { until } from '../helpers/reliability.js'

// GET /events to the end of a run, with the real bins: the last event a watcher gets before
// the master closes its stream is the run's final document (complete or stopped, with the
// final numbers), so the page ends on it instead of on a lost connection.

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-the-end'

describe('GET /events at the end of a run', () => {
  it('ends with the complete document and its final numbers', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '150' })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=200', ...masterArgs(box, 'final'), '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2'], { env: box.env })
    const stream = await followEvents(`http://${host}/events?token=${TOKEN}`)
    expect(stream.status).toBe(200)
    await until('the run to stand at 150', () => stream.docs.at(-1)?.run.position === 150, 60_000, 100)
    writeFileSync(join(box.records, 'go'), '')
    await stream.ended
    expect(await master.exited).toEqual(EXIT_OK)
    expect(await slave.exited).toEqual(EXIT_OK)
    const last = stream.docs.at(-1)!
    expect(last.run).toMatchObject({
      key: 'final',
      state: 'complete',
      done: 200,
      failed: 0,
      position: 200,
      inFlight: 0,
      queued: 0,
      total: 200,
      percent: 100,
    })
    expect(stream.docs.filter((doc) => doc.run.state === 'complete')).toHaveLength(1)
  })

  it('ends with the stopped document after a graceful stop', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '150' })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=200', ...masterArgs(box, 'final-stop'), '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2', '--prefetch', '0'], { env: box.env })
    const stream = await followEvents(`http://${host}/events?token=${TOKEN}`)
    expect(stream.status).toBe(200)
    await until(
      'the run to stand at 150 with 2 jobs held',
      () => stream.docs.at(-1)?.run.position === 150 && stream.docs.at(-1)?.run.inFlight === 2,
      60_000,
      100,
    )
    master.kill('SIGINT')
    await until('the run to be stopping', () => stream.docs.at(-1)?.run.state === 'stopping', 60_000, 100)
    writeFileSync(join(box.records, 'go'), '')
    await stream.ended
    expect(await master.exited).toEqual({ code: 130, signal: null })
    const last = stream.docs.at(-1)!
    expect(last.run).toMatchObject({ key: 'final-stop', state: 'stopped', done: 152, position: 152, inFlight: 0 })
    slave.kill('SIGINT')
  })
})
