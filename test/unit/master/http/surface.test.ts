import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { RunView } from '../../../../src/master/engine/view.js'
import type { HistoryDocument } from '../../../../src/master/engine/run-history.js'
import { startingStatus } from '../../../../src/master/engine/status.js'
import { HISTORY_MAX_AGE_MS, httpSurface } from '../../../../src/master/http/surface.js'

afterEach(() => {
  vi.useRealTimers()
})

/** A view whose history counts how often it is made, each one telling its number. */
function countingView(): { view: RunView; made: () => number } {
  let made = 0
  const status = startingStatus('k', {}, 'running')
  const view = {
    status: () => status,
    history: (): HistoryDocument => ({ version: 2, startedAt: status.time, run: [], master: [], slaves: [], omitted: made++ }),
    controls: status.run.controls,
    keep: () => {},
    log: () => {},
  } as unknown as RunView
  return { view, made: () => made }
}

describe('GET /history', () => {
  it('is made at most every few seconds, however many ask: the answers between share it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { view, made } = countingView()
    const surface = httpSurface(view, undefined)
    const server = createServer((req, res) => {
      if (!surface.routes.handle(req, res)) res.end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const ask = async (): Promise<number> => ((await (await fetch(`http://127.0.0.1:${port}/history`)).json()) as HistoryDocument).omitted
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, ask))
      expect(answers).toEqual(answers.map(() => 0))
      expect(made()).toBe(1)
      vi.setSystemTime(Date.now() + HISTORY_MAX_AGE_MS - 1)
      expect(await ask()).toBe(0)
      vi.setSystemTime(Date.now() + 1)
      expect(await ask()).toBe(1)
      expect(made()).toBe(2)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
