import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/** Debian's chromium: /usr/bin/chromium, else the one on PATH; a clear failure when there is none (CI installs it). */
export function chromiumPath(): string {
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium'
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error("Chromium not found (neither /usr/bin/chromium nor chromium on PATH): install Debian's chromium package (apt-get install chromium); the web page's test needs a real browser")
  }
}
