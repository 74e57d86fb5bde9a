import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunStatus } from '../../src/index.js'
import { EXIT_OK, cleanUp, fixture, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { poll } from '../helpers/poll.js'

// GET /events to the end of a run, with the real bins: the last event a watcher gets before
// the master closes its stream is the run's final document (complete or stopped, with the
// final numbers), so the page ends on it instead of on a lost connection.

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-the-end'

/** Follows `url` until the master ends the stream; `docs` holds every document so far. */
function follow(url: string): { docs: RunStatus[]; ended: Promise<void> } {
  const docs: RunStatus[] = []
  const ended = (async () => {
    const res = await fetch(url)
    expect(res.status).toBe(200)
    const decoder = new TextDecoder()
    let text = ''
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk, { stream: true })
      let at: number
      while ((at = text.indexOf('\n\n')) >= 0) {
        const event = text.slice(0, at)
        text = text.slice(at + 2)
        if (event.startsWith('data: ')) docs.push(JSON.parse(event.slice(6)) as RunStatus)
      }
    }
  })()
  return { docs, ended }
}

describe('GET /events at the end of a run', () => {
  it('ends with the complete document and its final numbers', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '150' })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=200', ...masterArgs(box, 'final'), '--quiet'], { env: box.env })
    const slave = startSlave([fixture('page-handler.mjs'), '--host', host, '--concurrency', '2'], { env: box.env })
    const stream = follow(`http://${host}/events?token=${TOKEN}`)
    await poll('the run to stand at 150', async () => stream.docs.at(-1)?.run.position === 150)
    writeFileSync(join(box.records, 'go'), '')
    await stream.ended
    expect(await master.exited).toEqual(EXIT_OK)
    expect(await slave.exited).toEqual(EXIT_OK)
    const last = stream.docs.at(-1)!
    expect(last.run).toMatchObject({ key: 'final', state: 'complete', done: 200, failed: 0, position: 200, inFlight: 0, queued: 0, total: 200, percent: 100 })
    expect(stream.docs.filter((doc) => doc.run.state === 'complete')).toHaveLength(1)
  })

  it('ends with the stopped document after a graceful stop', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '150' })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=200', ...masterArgs(box, 'final-stop'), '--quiet'], { env: box.env })
    const slave = startSlave([fixture('page-handler.mjs'), '--host', host, '--concurrency', '2', '--prefetch', '0'], { env: box.env })
    const stream = follow(`http://${host}/events?token=${TOKEN}`)
    await poll('the run to stand at 150 with 2 jobs held', async () => stream.docs.at(-1)?.run.position === 150 && stream.docs.at(-1)?.run.inFlight === 2)
    master.kill('SIGINT')
    await poll('the run to be stopping', async () => stream.docs.at(-1)?.run.state === 'stopping')
    writeFileSync(join(box.records, 'go'), '')
    await stream.ended
    expect(await master.exited).toEqual({ code: 130, signal: null })
    const last = stream.docs.at(-1)!
    expect(last.run).toMatchObject({ key: 'final-stop', state: 'stopped', done: 152, position: 152, inFlight: 0 })
    slave.kill('SIGINT')
  })
})
