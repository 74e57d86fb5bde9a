import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, cleanUp, expectEachKeyRan, fixture, masterArgs, recordedKeys, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { controlLines, statusReader } from '../helpers/poll.js'
import { useChromium } from '../helpers/chromium.js'
import { until } from '../helpers/reliability.js'

// The web page's controls in a real browser (Debian's headless Chromium, as the page's own
// test): Pause/Resume, the rate and max-in-flight fields, during a live run with the real
// bins, checked against GET /status and the --stats stream (where each change came from).

afterEach(cleanUp)

const TOKEN = 's3cret-token-for-the-buttons'

const browser = useChromium()

const { status, expectStandsStill } = statusReader(TOKEN)

/** The controls part of the page now: the button's label, the controls shown, the last answer. */
const controlsShown = (page: Page): Promise<{ button: string; now: string; answer: string }> =>
  page.evaluate(() => ({
    button: document.getElementById('pause')!.textContent ?? '',
    now: document.getElementById('now')!.textContent ?? '',
    answer: document.getElementById('answer')!.textContent ?? '',
  }))

/** Waits until the page's last answer reads `text`. */
const answered = (page: Page, text: string): Promise<void> =>
  page.locator('#answer').getByText(text, { exact: true }).waitFor({ timeout: 30_000 })

/** The control lines of a --stats file: what changed, where from, the pause, rate and max in flight after it. */
const changes = (file: string): [string, string, string | undefined, boolean, number | null, number | null][] =>
  controlLines(file).map((c) => [
    c.control,
    c.source.kind,
    c.source.address?.replace(/^::ffff:/, ''),
    c.controls.paused,
    c.controls.rate,
    c.controls.maxInFlight,
  ])

describe("the web page's controls in Chromium", () => {
  it('Pause stops dispatch, Set and Off change the rate and max in flight, Resume finishes the run with every job once', async () => {
    // Jobs of 100 ms: long beside a slave's ack delay, so the slaves run about as many as the master lets out.
    const box = sandbox({ TM_TOKEN: TOKEN, TM_RECORD_DELAY_MS: '100' })
    const stats = join(box.stateDir, '..', 'stats.jsonl')
    const { master, host } = await startMaster(
      [
        fixture('range.mjs'),
        'n=400',
        ...masterArgs(box, 'buttons'),
        '--quiet',
        '--batch-size',
        '4',
        '--stats',
        stats,
        '--stats-interval',
        '0.2',
      ],
      { env: box.env },
    )
    const slaves = [2, 2].map(() =>
      startSlave([fixture('record.mjs'), '--host', host, '--concurrency', '2', '--prefetch', '2', '--reconnect', '2'], { env: box.env }),
    )

    const page = await browser().newPage({ viewport: { width: 1100, height: 1000 } })
    await page.goto(`http://${host}/?token=${TOKEN}`)
    await page.locator('#pause').getByText('Pause', { exact: true }).waitFor({ timeout: 30_000 })
    expect(await controlsShown(page)).toEqual({
      button: 'Pause',
      now: 'not paused | rate off | max in flight off | no throttle',
      answer: '',
    })
    await until('50 jobs recorded', () => recordedKeys(box.records).length >= 50)

    // Pause: the answer, the label, and the run stands still once the jobs the slaves held are done.
    await page.locator('#pause').click()
    const atPause = recordedKeys(box.records).length
    const pausedAt = Date.now()
    await answered(page, 'paused')
    expect(await controlsShown(page)).toEqual({
      button: 'Resume',
      now: 'paused | rate off | max in flight off | no throttle',
      answer: 'paused',
    })
    // Each slave holds at most concurrency + prefetch = 4 jobs: those, and no more, ran after the click.
    await expectStandsStill(host, { records: box.records, atPause, pausedAt, held: 8, total: 400 })

    // A rate typed and Set, then Off; the same for max in flight.
    await page.locator('#rate-value').fill('50')
    await page.locator('#rate-form button', { hasText: 'Set' }).click()
    await answered(page, 'rate 50 jobs/s')
    expect((await status(host)).run.controls).toEqual({ paused: true, rate: 50, maxInFlight: null, throttled: null, throttle: null })
    expect((await controlsShown(page)).now).toBe('paused | rate 50/s | max in flight off | no throttle')
    await page.locator('#rate-off').click()
    await answered(page, 'rate off')
    expect((await status(host)).run.controls.rate).toBeNull()
    await page.locator('#mif-value').fill('3')
    await page.locator('#mif-value').press('Enter')
    await answered(page, 'max in flight 3')
    expect((await status(host)).run.controls.maxInFlight).toBe(3)
    await page.locator('#mif-off').click()
    await answered(page, 'max in flight off')
    expect((await status(host)).run.controls).toEqual({ paused: true, rate: null, maxInFlight: null, throttled: null, throttle: null })
    // Off again changes nothing, and says so.
    await page.locator('#mif-off').click()
    await answered(page, 'nothing: max in flight is already off')

    // A value the master refuses: its reason, as it said it; nothing changed.
    await page.locator('#rate-value').fill('0')
    await page.locator('#rate-form button', { hasText: 'Set' }).click()
    await answered(
      page,
      'POST /rate takes a JSON body {"value": <a number of jobs per second from 0.001 to 10000000> or null for no limit}; got 0',
    )
    await page.locator('#rate-value').fill('fast')
    await page.locator('#rate-form button', { hasText: 'Set' }).click()
    await answered(
      page,
      'POST /rate takes a JSON body {"value": <a number of jobs per second from 0.001 to 10000000> or null for no limit}; got "fast"',
    )
    expect((await status(host)).run.controls.rate).toBeNull()

    // A change made elsewhere (tm-ctl, another page) shows from the live document.
    const elsewhere = await fetch(`http://${host}/rate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '{"value": 2000}',
    })
    expect(elsewhere.status).toBe(200)
    await page
      .locator('#now')
      .getByText('paused | rate 2,000/s | max in flight off | no throttle', { exact: true })
      .waitFor({ timeout: 30_000 })

    // A token the master no longer takes (typed wrong into another tab's prompt): its refusal is shown.
    await page.evaluate(() => {
      // The page's own binding (a top-level let of its script).
      ;(0, eval)("token = 'wrong'")
    })
    await page.locator('#pause').click()
    await answered(page, "This run's figures need its token: send Authorization: Bearer <token> or add ?token=<token>")
    expect((await status(host)).run.controls.paused).toBe(true)
    await page.evaluate((t) => void (0, eval)(`token = ${JSON.stringify(t)}`), TOKEN)

    // Resume: the run finishes with every job once.
    await page.locator('#pause').click()
    await answered(page, 'resumed')
    expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    for (const slave of slaves) expect(await slave.exited, slave.stderr).toEqual(EXIT_OK)
    expectEachKeyRan(box.records, 400)
    // The page ends on the run's final document, not on a lost connection.
    await page.locator('#conn').getByText('the run has ended', { exact: true }).waitFor({ timeout: 30_000 })
    expect(
      await page.evaluate(() => ['state', 'done', 'inflight', 'queued'].map((id) => document.getElementById(id)!.textContent)),
    ).toEqual(['complete', '400', '0', '0'])
    expect(changes(stats)).toEqual([
      ['paused', 'http', '127.0.0.1', true, null, null],
      ['rate 50 jobs/s', 'http', '127.0.0.1', true, 50, null],
      ['rate off', 'http', '127.0.0.1', true, null, null],
      ['max in flight 3', 'http', '127.0.0.1', true, null, 3],
      ['max in flight off', 'http', '127.0.0.1', true, null, null],
      ['rate 2,000 jobs/s', 'http', '127.0.0.1', true, 2000, null],
      ['resumed', 'http', '127.0.0.1', false, 2000, null],
    ])
    expect(master.stdout + master.stderr).not.toContain(TOKEN)
  })
})
