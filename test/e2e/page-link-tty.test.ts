import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { MASTER_BIN, cleanUp, fixture, masterArgs, sandbox } from '../helpers/proc.js'

// The page's link on a terminal: tm-master under script(1), which gives it a pseudo-terminal,
// prints the link with its token on loopback (a person's screen is no log).

/** script(1) and the master under it, ended after each test whatever happened. */
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await cleanUp()
})

const TOKEN = 's3cret-token-on-a-terminal'

describe('the page link on a terminal', () => {
  it('holds the token (URL-encoded) for a master on loopback', async () => {
    const box = sandbox({ TM_TOKEN: `${TOKEN}/+` })
    const command = [process.execPath, MASTER_BIN, fixture('range-total.mjs'), 'n=5', ...masterArgs(box, 'tty')]
      .map((word) => `'${word}'`)
      .join(' ')
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, ...box.env, COLUMNS: '200' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    children.push(child)
    let out = ''
    const link = await new Promise<RegExpMatchArray>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk
        const match = /Status page: ([^\r\n]+)\r?\n/.exec(out)
        if (match) resolve(match)
      })
      child.on('exit', () => reject(new Error(`exited before the page line:\n${out}`)))
    })
    const host = /Taskmaster server running on '([^']+)'/.exec(out)![1]
    // The whole line: the link and nothing after it.
    expect(link[1]).toBe(`http://${host}/?token=${encodeURIComponent(`${TOKEN}/+`)}`)
    const exited = new Promise((resolve) => child.on('exit', resolve))
    // script(1) hands the terminal's ^C to the master as SIGINT.
    child.stdin.write('\x03')
    await exited
  })
})
