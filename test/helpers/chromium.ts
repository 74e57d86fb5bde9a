import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Browser } from 'playwright-core'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'

/** Debian's chromium: /usr/bin/chromium, else the one on PATH; a clear failure when there is none (CI installs it). */
function chromiumPath(): string {
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium'
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error(
      "Chromium not found (neither /usr/bin/chromium nor chromium on PATH): install Debian's chromium package (apt-get install chromium); the web page's test needs a real browser",
    )
  }
}

/** One headless Chromium for the test file (launched before its tests, closed after); call the result for it. */
export function useChromium(): () => Browser {
  let browser: Browser | undefined
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] })
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
  })
  return () => {
    if (browser === undefined) throw new Error('Chromium is not launched yet')
    return browser
  }
}
