import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import type { WebSocket } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanUp, fixture, masterArgs, sandbox, spawnArgs, startMaster, startSlave, tempDir } from '../helpers/proc.js'
import { useChromium } from '../helpers/chromium.js'
import { statusReader } from '../helpers/poll.js'
import { hello, rawExchange, until, wire } from '../helpers/reliability.js'

// The page's charts over time in a real browser (Debian's headless Chromium through
// playwright-core): the master's and each slave's CPU, memory and network, named, from
// /history and then from the stream; and what a slave names itself shown as text only.

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-the-charts'
const { statusWhere } = statusReader(TOKEN)
const browser = useChromium()

/** What the resource charts hold: the legend's names by series, and each chart's series with their points. */
interface Drawn {
  legend: Record<string, string>
  charts: Record<string, Record<string, { points: number; name: string }>>
}

function drawn(page: Page): Promise<Drawn> {
  return page.evaluate(() => {
    const legend: Record<string, string> = {}
    for (const li of document.querySelectorAll<HTMLLIElement>('#legend li')) legend[li.dataset.series ?? ''] = li.textContent ?? ''
    const charts: Record<string, Record<string, { points: number; name: string }>> = {}
    for (const id of ['cpu', 'rss', 'netin', 'netout']) {
      charts[id] = {}
      for (const line of document.querySelectorAll<SVGPolylineElement>(`#${id} polyline`))
        charts[id][line.dataset.series ?? ''] = { points: line.points.numberOfItems, name: line.querySelector('title')?.textContent ?? '' }
    }
    return { legend, charts }
  })
}

describe('the charts of the web page in Chromium', () => {
  it("draws the master's and three slaves' CPU, memory and network over time, each named", async () => {
    // Jobs enough for the whole test; three slaves of different speeds.
    const box = sandbox({ TM_TOKEN: TOKEN })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=1000000', ...masterArgs(box, 'charts'), '--quiet'], {
      env: box.env,
    })
    const speeds = [
      { delay: '1', concurrency: '8' },
      { delay: '10', concurrency: '4' },
      { delay: '40', concurrency: '1' },
    ]
    const slaves = speeds.map(({ delay, concurrency }) =>
      startSlave([fixture('record.mjs'), '--host', host, '--concurrency', concurrency, '--reconnect', '0'], {
        env: { ...box.env, TM_RECORD_DELAY_MS: delay },
      }),
    )
    const names = slaves.map((slave) => `${hostname()}:${slave.child.pid}`)
    // Some seconds of the three at work before the page opens: those come from /history.
    const before = await statusWhere(
      host,
      'three slaves at work for three seconds',
      (doc) =>
        doc.slaves.length === 3 && doc.slaves.every((s) => s.rss > 0 && s.done > 0 && Date.now() - Date.parse(s.connectedAt) >= 3000),
    )
    const ids = new Map(before.slaves.map((s) => [`${s.hostname}:${s.pid}`, `s${s.id}`]))
    expect([...ids.keys()].sort()).toEqual([...names].sort())

    const page = await browser().newPage({ viewport: { width: 1100, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(`http://${host}/?token=${TOKEN}`)
    const shown = await until(
      'the charts to draw the master and three slaves with two points or more',
      async () => {
        const now = await drawn(page)
        const keys = ['master', ...ids.values()]
        const full = ['cpu', 'rss', 'netin', 'netout'].every((id) => keys.every((key) => (now.charts[id][key]?.points ?? 0) >= 2))
        return full && Object.keys(now.legend).length === 4 ? now : undefined
      },
      60_000,
      100,
    )
    // The legend names them: the master, and each slave as it named itself.
    expect(shown.legend).toEqual(Object.fromEntries([['master', 'master'], ...names.map((name) => [ids.get(name)!, name])]))
    for (const id of ['cpu', 'rss', 'netin', 'netout']) {
      expect(Object.keys(shown.charts[id]).sort()).toEqual(['master', ...ids.values()].sort())
      for (const name of names) expect(shown.charts[id][ids.get(name)!].name).toBe(name)
      expect(shown.charts[id].master.name).toBe('master')
    }
    // The charts start before the page opened: from this master's start, through /history.
    const earliest = await page.evaluate(() => document.getElementById('span')!.textContent)
    expect(earliest).toMatch(/^over \d+:\d\d:\d\d$/)
    expect(await page.locator('#since').textContent()).toMatch(
      /^The charts start when this master started \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\.$/,
    )
    expect(await page.locator('#master').textContent()).toMatch(
      new RegExp(
        `^master ${hostname()}:${master.child.pid}: cpu \\d+ %, rss [\\d.]+ [KMG]iB, net in [\\d.]+ (B|KiB|MiB|GiB), net out [\\d.]+ (B|KiB|MiB|GiB)$`,
      ),
    )
    expect(errors).toEqual([])
    // Into a temp dir, not the repository (a test run must leave the tree clean);
    // TM_SCREENSHOT=docs/page.png refreshes the README's picture.
    const shot = process.env.TM_SCREENSHOT ?? join(tempDir(), 'page.png')
    await page.screenshot({ path: shot, fullPage: true })
    expect(existsSync(shot)).toBe(true)

    // One leaves: still drawn, marked as gone.
    const gone = slaves[2]
    gone.kill('SIGKILL')
    await page
      .locator(`#legend li[data-series="${ids.get(names[2])!}"]`)
      .getByText('(left)')
      .waitFor({ timeout: 30_000 })
    expect((await drawn(page)).charts.cpu[ids.get(names[2])!].points).toBeGreaterThanOrEqual(2)

    master.kill('SIGINT')
    await master.exited
    for (const slave of slaves.slice(0, 2)) slave.kill('SIGINT')
  })

  it("after a resume, charts from the new master's start and says the earlier masters' figures are not kept", async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_RECORD_DELAY_MS: '5' })
    const args = [fixture('range-total.mjs'), 'n=1000000', ...masterArgs(box, 'resumed'), ...spawnArgs(1), '--quiet']
    const first = await startMaster(args, { env: box.env })
    const before = await statusWhere(first.host, 'jobs done by the first master', (doc) => doc.run.done > 0)
    first.master.kill('SIGINT')
    await first.master.exited
    const second = await startMaster(args, { env: box.env })
    const doc = await statusWhere(second.host, 'the second master running', (d) => d.run.resumed && d.run.state === 'running')
    // Its history starts with it; the run's counts go on from the first master's.
    const history = (await (await fetch(`http://${second.host}/history`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      startedAt: string
      run: { time: string; done: number }[]
    }
    expect(history.startedAt).toBe(doc.run.session.startedAt)
    expect(Date.parse(history.run[0].time)).toBeGreaterThanOrEqual(Date.parse(doc.run.session.startedAt))
    expect(history.run[0].done).toBeGreaterThanOrEqual(before.run.done)
    const page = await browser().newPage({ viewport: { width: 1100, height: 900 } })
    await page.goto(`http://${second.host}/?token=${TOKEN}`)
    await page.locator('#since').getByText('not kept').waitFor({ timeout: 30_000 })
    const utc = (iso: string): string => iso.slice(0, 19).replace('T', ' ') + ' UTC'
    expect(await page.locator('#since').textContent()).toBe(
      `The charts start when this master started (${utc(doc.run.session.startedAt)}); the run started ${utc(doc.run.startedAt)}, and the figures of its earlier masters are not kept.`,
    )
    expect(Date.parse(await page.evaluate(() => document.getElementById('chart')!.dataset.from!))).toBeGreaterThanOrEqual(
      Date.parse(doc.run.session.startedAt),
    )
    second.master.kill('SIGINT')
    await second.master.exited
  })

  it('shows a slave that names itself with markup and at length as text, cut, under the CSP; nothing of it runs', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=10', ...masterArgs(box, 'odd'), '--quiet'], { env: box.env })
    // As long as a hello takes (255 characters): longer than the history keeps.
    const markup = '<img src=x onerror="window.tmOwned=1"><script>window.tmOwned=2</script>'
    const odd = markup + 'w'.repeat(255 - markup.length)
    let leave!: () => void
    const raw = rawExchange(`ws://${host}`, (ws: WebSocket) => {
      ws.send(hello({ token: TOKEN, slave: { id: 'odd', hostname: odd, pid: 1, concurrency: 1 } }))
      const report = (): void => ws.send(wire.pack({ type: 'stats', cpu: 0.5, rss: 50_000_000, running: 0, netIn: 10, netOut: 20 }))
      report()
      const timer = setInterval(report, 500)
      leave = () => {
        clearInterval(timer)
        ws.close()
      }
    })
    const doc = await statusWhere(host, 'the odd slave with its figures', (d) => d.slaves.length === 1 && d.slaves[0].rss > 0)
    const key = `s${doc.slaves[0].id}`

    const page = await browser().newPage({ viewport: { width: 1100, height: 900 } })
    const violations: string[] = []
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text())
    })
    await page.goto(`http://${host}/?token=${TOKEN}`)
    const item = page.locator(`#legend li[data-series="${key}"]`)
    await item.waitFor({ timeout: 30_000 })
    const shown = await page.evaluate((k) => {
      const li = document.querySelector<HTMLLIElement>(`#legend li[data-series="${k}"]`)!
      return {
        text: li.textContent ?? '',
        title: li.title,
        markup: document.querySelectorAll('#legend img, #legend script, svg img, svg script, #slaves img, #slaves script').length,
        owned: (window as unknown as { tmOwned?: number }).tmOwned,
        width: li.getBoundingClientRect().width,
        pageWidth: document.documentElement.scrollWidth,
        chartName: document.querySelector(`#cpu polyline[data-series="${k}"] title`)?.textContent,
      }
    }, key)
    const name = `${odd}:1`
    const cut = name.slice(0, 199) + '…'
    expect(shown.text).toBe(cut)
    expect(shown.title).toBe(cut)
    expect(shown.chartName).toBe(cut)
    expect(shown.markup).toBe(0)
    expect(shown.owned).toBeUndefined()
    // The legend cuts it on the screen, and the page does not grow sideways for it.
    expect(shown.width).toBeLessThanOrEqual(340)
    expect(shown.pageWidth).toBeLessThanOrEqual(1100)
    // /history keeps it cut too.
    const history = (await (await fetch(`http://${host}/history`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      slaves: { name: string }[]
    }
    expect(history.slaves.map((s) => s.name)).toEqual([cut])
    expect(violations).toEqual([])

    leave()
    await raw
    master.kill('SIGINT')
    await master.exited
  })
})
