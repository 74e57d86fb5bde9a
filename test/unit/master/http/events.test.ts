import { createServer } from 'node:http'
import type { IncomingMessage, Server } from 'node:http'
import { get } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { StatusEvents } from '../../../../src/master/http/events.js'
import { until } from '../../../helpers/reliability.js'

// The server-sent events of the web page, on a real HTTP server on port 0.

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
  server = undefined
})

async function serve(events: StatusEvents): Promise<string> {
  const route = events.route()
  server = createServer((req, res) => void route(req, res, new URL(req.url ?? '/', 'http://x')))
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`
}

/** A watcher: its response and the text it has read, with a wait on what comes. */
async function watch(
  url: string,
): Promise<{ res: IncomingMessage; text: () => string; until: (pattern: RegExp) => Promise<void>; ended: Promise<void> }> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => get(url, resolve).on('error', reject))
  let text = ''
  const waiters: (() => void)[] = []
  res.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk
    for (const waiter of waiters.splice(0)) waiter()
  })
  const ended = new Promise<void>((resolve) => res.on('end', resolve))
  const until = async (pattern: RegExp): Promise<void> => {
    while (!pattern.test(text)) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  return { res, text: () => text, until, ended }
}

describe('StatusEvents', () => {
  it('streams the last document at once, then each one published, with SSE headers', async () => {
    let doc = '{"n":1}'
    const events = new StatusEvents(() => doc)
    const watcher = await watch(await serve(events))
    expect(watcher.res.statusCode).toBe(200)
    expect(watcher.res.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(watcher.res.headers['cache-control']).toBe('no-store')
    expect(watcher.res.headers['x-accel-buffering']).toBe('no')
    await watcher.until(/data: \{"n":1\}\n\n$/)
    doc = '{"n":2}'
    events.publish()
    await watcher.until(/data: \{"n":2\}\n\n$/)
    expect(watcher.text()).toBe('retry: 2000\n\ndata: {"n":1}\n\ndata: {"n":2}\n\n')
    events.close()
    await watcher.ended
    expect(events.size).toBe(0)
  })

  it('sends heartbeat comments while someone watches', async () => {
    const events = new StatusEvents(() => '{}', { heartbeatMs: 20 })
    const watcher = await watch(await serve(events))
    await watcher.until(/: heartbeat\n\n: heartbeat\n\n$/)
    events.close()
  })

  it('drops a watcher that goes away (and builds nothing for no one)', async () => {
    let built = 0
    const events = new StatusEvents(
      () => {
        built++
        return '{}'
      },
      { heartbeatMs: 20 },
    )
    const url = await serve(events)
    const first = await watch(url)
    const second = await watch(url)
    await first.until(/data: \{\}\n\n/)
    await second.until(/data: \{\}\n\n/)
    expect(events.size).toBe(2)
    first.res.destroy()
    await until('the first watcher to be dropped', () => events.size === 1, 5_000, 5)
    second.res.destroy()
    await until('the second watcher to be dropped', () => events.size === 0, 5_000, 5)
    const before = built
    events.publish()
    expect(built).toBe(before)
    events.close()
  })

  it('refuses watchers beyond its maximum (each holds a socket), and takes one again when another leaves', async () => {
    const events = new StatusEvents(() => '{}', { maxWatchers: 1 })
    const url = await serve(events)
    const first = await watch(url)
    await first.until(/data: \{\}\n\n/)
    const second = await watch(url)
    expect(second.res.statusCode).toBe(503)
    await second.until(/^Too many watchers \(1\); try again later\n$/)
    first.res.destroy()
    await until('the watcher to be dropped', () => events.size === 0, 5_000, 5)
    const third = await watch(url)
    expect(third.res.statusCode).toBe(200)
    events.close()
  })

  it('ends every stream with the last document: one built since the last publish goes out before the end', async () => {
    let doc = '{"state":"running"}'
    const events = new StatusEvents(() => doc)
    const url = await serve(events)
    const watchers = [await watch(url), await watch(url)]
    for (const watcher of watchers) await watcher.until(/data: \{"state":"running"\}\n\n$/)
    // The run's final document, built on the way out and not published yet.
    doc = '{"state":"complete"}'
    events.close()
    for (const watcher of watchers) {
      await watcher.ended
      expect(watcher.text()).toBe('retry: 2000\n\ndata: {"state":"running"}\n\ndata: {"state":"complete"}\n\n')
    }
  })

  it('sends a document already published no second time on close', async () => {
    let doc = '{"state":"running"}'
    const events = new StatusEvents(() => doc)
    const watcher = await watch(await serve(events))
    await watcher.until(/data: \{"state":"running"\}\n\n$/)
    doc = '{"state":"complete"}'
    events.publish()
    events.close()
    await watcher.ended
    expect(watcher.text()).toBe('retry: 2000\n\ndata: {"state":"running"}\n\ndata: {"state":"complete"}\n\n')
  })

  it('refuses new watchers once closed', async () => {
    const events = new StatusEvents(() => '{}')
    const url = await serve(events)
    events.close()
    const watcher = await watch(url)
    expect(watcher.res.statusCode).toBe(503)
    await watcher.ended
  })
})
