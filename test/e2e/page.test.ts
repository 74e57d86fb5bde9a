import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, cleanUp, tempDir, fixture, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { useChromium } from '../helpers/chromium.js'
import { statusReader } from '../helpers/poll.js'
import { until } from '../helpers/reliability.js'

// The web page in a real browser: Debian's headless Chromium driven by playwright-core
// (never a browser of its own download). During a live run it must show the numbers of
// GET /status of the same document, and nothing of the run without the token.

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-the-browser'
const { status, statusWhere } = statusReader(TOKEN)

const browser = useChromium()

// The page's formats: integers with separators, rates with one decimal below 10, sizes in binary units.
const int = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 })
const rate = (r: number): string => r.toLocaleString('en-US', { maximumFractionDigits: r < 10 ? 1 : 0 }) + '/s'
const two = (n: number): string => String(n).padStart(2, '0')
const dur = (ms: number): string => {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`
}
function bytes(n: number): string {
  let u = 0
  while (n >= 1024 && u < 4) {
    n /= 1024
    u++
  }
  return (u ? n.toFixed(1) + ' ' : `${n} `) + ['B', 'KiB', 'MiB', 'GiB', 'TiB'][u]
}

/** What the page shows now: the figures by element id, the slaves' and failures' rows, and the document's time. */
function shown(
  page: Page,
): Promise<{ time: string | undefined; visible: boolean; fields: Record<string, string>; slaves: string[][]; failures: string[][] }> {
  return page.evaluate(() => {
    const ids = [
      'key',
      'state',
      'args',
      'percent',
      'eta',
      'done',
      'position',
      'last',
      'rate',
      'elapsed',
      'failed',
      'inflight',
      'queued',
      'count',
    ]
    const rows = (id: string): string[][] =>
      [...(document.getElementById(id) as HTMLTableElement).tBodies[0].rows].map((row) =>
        [...row.cells].map((cell) => cell.textContent ?? ''),
      )
    const run = document.getElementById('run')!
    return {
      time: run.dataset.time,
      visible: !run.hidden,
      fields: Object.fromEntries(ids.map((id) => [id, document.getElementById(id)!.textContent ?? ''])),
      slaves: rows('slaves'),
      failures: rows('failures'),
    }
  })
}

describe('the web page in Chromium', () => {
  it('shows the numbers of /status during a live run, and nothing of the run without the token', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '400', TM_FAIL_IDS: '7,42,99', TM_RECORD_DELAY_MS: '40' })
    const { master, host } = await startMaster(
      [
        fixture('range-total.mjs'),
        'n=500',
        'table=posts',
        'since=2024-01-01',
        ...masterArgs(box, 'posts-backfill'),
        '--retries',
        '0',
        '--quiet',
      ],
      { env: box.env },
    )
    const slaves = [1, 2].map(() => startSlave([fixture('page-handler.mjs'), '--host', host, '--concurrency', '2'], { env: box.env }))

    const page = await browser().newPage({ viewport: { width: 1100, height: 900 } })
    await page.goto(`http://${host}/?token=${TOKEN}`)
    // The token leaves the address bar at once.
    expect(page.url()).toBe(`http://${host}/`)
    // The run stands at 400 finished (397 done, 3 failed) with both slaves' stats in, and the page shows it.
    await until(
      'the page to show the run standing at 400',
      async () => {
        const doc = await status(host)
        const now = await shown(page)
        return doc.run.position === 400 && doc.slaves.length === 2 && doc.slaves.every((s) => s.rss > 0) && now.fields.done === '397 of 500'
      },
      60_000,
      100,
    )
    // The page's figures and a /status document of the same time: read the page, /status, the page again.
    const { doc, now } = await until(
      'the page and /status on one document',
      async () => {
        const before = await shown(page)
        const doc = await status(host)
        const now = await shown(page)
        return before.time === doc.time && now.time === doc.time ? { doc, now } : undefined
      },
      60_000,
      100,
    )
    const r = doc.run
    expect(now.visible).toBe(true)
    expect(now.fields).toEqual({
      key: 'posts-backfill',
      state: 'running',
      args: 'n=500 table=posts since=2024-01-01',
      percent: `${r.percent!.toFixed(1)} %`,
      eta: `ETA ${r.etaMs === null ? '-' : dur(r.etaMs)}`,
      done: '397 of 500',
      position: '400',
      last: '399',
      rate: rate(r.rate),
      elapsed: dur(r.elapsedMs),
      failed: '3',
      inflight: int(r.inFlight),
      queued: int(r.queued),
      count: '2',
    })
    expect(r.percent).toBe(80)
    expect(now.slaves).toEqual(
      doc.slaves.map((s) => [
        `${s.hostname}:${s.pid}`,
        s.address,
        '2',
        int(s.done),
        rate(s.rate),
        int(s.inFlight),
        `${Math.round(s.cpuPercent)} %`,
        bytes(s.rss),
        bytes(s.netIn),
        bytes(s.netOut),
      ]),
    )
    expect(doc.slaves.map((s) => s.pid).sort()).toEqual(slaves.map((s) => s.child.pid).sort())
    expect(now.failures).toEqual(
      doc.failures.map((f) => [String(f.key), '1', `job ${f.key} is broken: the row has no owner`, f.at.slice(11, 19)]),
    )
    expect(doc.failures.map((f) => f.key).sort()).toEqual([42, 7, 99].sort())
    // Into a temp dir, not the repository (a test run must leave the tree clean); the README's
    // picture is page-history.test.ts's, of a run with three slaves and its charts.
    const shot = join(tempDir(), 'page.png')
    await page.screenshot({ path: shot })
    expect(existsSync(shot)).toBe(true)

    // Without the token: the prompt, and nothing of the run (no key, no argument, no figure).
    const stranger = await browser().newPage()
    await stranger.goto(`http://${host}/`)
    await stranger.locator('#login').waitFor({ state: 'visible' })
    const bare = await shown(stranger)
    expect(bare.visible).toBe(false)
    expect(bare.time).toBeUndefined()
    expect(Object.values(bare.fields).join('')).toBe('')
    expect(bare.slaves).toEqual([])
    const text = await stranger.locator('body').innerText()
    for (const secret of ['posts', 'since', '397', '400', TOKEN]) expect(text).not.toContain(secret)
    expect(await stranger.content()).not.toContain('posts')
    // A wrong token is refused; the right one typed into the prompt opens the run.
    await stranger.locator('#token').fill('wrong')
    await stranger.locator('#login button').click()
    await stranger.locator('#why').getByText('That token was refused.').waitFor()
    expect((await shown(stranger)).visible).toBe(false)
    await stranger.locator('#token').fill(TOKEN)
    await stranger.locator('#login button').click()
    await stranger.locator('#key').getByText('posts-backfill').waitFor()

    writeFileSync(join(box.records, 'go'), '')
    expect(await master.exited).toEqual({ code: 1, signal: null })
    for (const slave of slaves) expect(await slave.exited).toEqual(EXIT_OK)
    expect(master.stderr).not.toContain(TOKEN)
  })

  it('opened a few seconds into a run, charts it from its start; paused, says so and its ETA stands still; resumed, running again', async () => {
    // Jobs of 20 ms on 4 lanes: far more than the test's seconds can finish.
    const box = sandbox({ TM_TOKEN: TOKEN, TM_RECORD_DELAY_MS: '20' })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=100000', ...masterArgs(box, 'charted'), '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([fixture('record.mjs'), '--host', host, '--concurrency', '4', '--reconnect', '0'], { env: box.env })
    const early = await statusWhere(
      host,
      'three seconds of the run, with jobs done',
      (doc) => doc.run.session.elapsedMs >= 3000 && doc.run.done > 0,
    )

    const page = await browser().newPage({ viewport: { width: 1100, height: 900 } })
    await page.goto(`http://${host}/?token=${TOKEN}`)
    await page.locator('#state').getByText('running', { exact: true }).waitFor({ timeout: 30_000 })
    // The chart holds the run's seconds before the page opened: /history's points, then the stream's.
    const chart = await page.evaluate(() => ({
      from: document.getElementById('chart')!.dataset.from,
      points: (document.getElementById('line') as unknown as SVGPolylineElement).points.numberOfItems,
    }))
    expect(Date.parse(chart.from!)).toBeGreaterThanOrEqual(Date.parse(early.run.session.startedAt))
    expect(Date.parse(chart.from!)).toBeLessThanOrEqual(Date.parse(early.time) - 2000)
    expect(chart.points).toBeGreaterThanOrEqual(3)

    // Paused: the badge says so, and the ETA stands still over three documents.
    const figures = (): Promise<{ time: string | undefined; state: string; eta: string }> =>
      page.evaluate(() => ({
        time: document.getElementById('run')!.dataset.time,
        state: document.getElementById('state')!.textContent ?? '',
        eta: document.getElementById('eta')!.textContent ?? '',
      }))
    await page.locator('#pause').click()
    await page.locator('#state').getByText('paused', { exact: true }).waitFor({ timeout: 30_000 })
    const atPause = await figures()
    const seen = [atPause]
    await until(
      'three more documents on the page',
      async () => {
        const now = await figures()
        if (now.time !== seen.at(-1)!.time) seen.push(now)
        return seen.length >= 4
      },
      60_000,
      50,
    )
    expect(seen.map((f) => [f.state, f.eta])).toEqual(seen.map(() => ['paused', atPause.eta]))
    expect(atPause.eta).toMatch(/^ETA (paused|-)$/)
    expect((await status(host)).run.controls.paused).toBe(true)

    // Resumed: running again, with an ETA that is a time or not known yet.
    await page.locator('#pause').click()
    await page.locator('#state').getByText('running', { exact: true }).waitFor({ timeout: 30_000 })
    expect((await figures()).eta).toMatch(/^ETA (\d+:\d\d:\d\d|-)$/)

    await fetch(`http://${host}/stop`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    expect(await master.exited).toEqual({ code: 130, signal: null })
    // It would wait for the master to come back.
    slave.kill('SIGINT')
  })
})
