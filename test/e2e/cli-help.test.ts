// What a newcomer types first: --version, no arguments at all, --help.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CTL_BIN, MASTER_BIN, ROOT, SLAVE_BIN, cleanUp, run } from '../helpers/proc.js'

afterEach(cleanUp)

const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string }

const BINS: [string, string, string][] = [
  ['tm-master', MASTER_BIN, 'Usage: tm-master [options] <module> [args...]'],
  ['tm-slave', SLAVE_BIN, 'Usage: tm-slave [options] <module>'],
]

describe.each(BINS)('%s', (_name, bin, usage) => {
  it('--version and -V print the package name and version, exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const proc = await run(bin, [flag])
      expect(proc.stdout).toBe(`${PACKAGE.name} ${PACKAGE.version}\n`)
      expect(proc.stderr).toBe('')
      expect(proc.exit).toEqual({ code: 0, signal: null })
    }
  })

  it('with no arguments prints the whole help on stderr and exits 2 (bad usage)', async () => {
    const proc = await run(bin, [])
    expect(proc.stderr.split('\n')[0]).toBe(usage)
    expect(proc.stderr).toContain('--version')
    expect(proc.stderr).toContain('\nExamples:\n')
    expect(proc.stderr).not.toContain('missing required argument')
    expect(proc.stdout).toBe('')
    expect(proc.exit).toEqual({ code: 2, signal: null })
  })

  it('--help ends with examples that name a token whenever they leave loopback', async () => {
    const proc = await run(bin, ['--help'])
    expect(proc.exit).toEqual({ code: 0, signal: null })
    const examples = proc.stdout.slice(proc.stdout.indexOf('\nExamples:\n'))
    expect(examples.split('\n').length).toBeGreaterThan(2)
    for (const line of examples.split('\n')) {
      if (/0\.0\.0\.0|10\.0\.0\.5/.test(line)) expect(line).toMatch(/TM_TOKEN=|--token /)
    }
  })
})

/** Every `(default: ...)` of a help text, by long flag (commander wraps lines: join them first). */
function defaultsShown(help: string): Record<string, string> {
  const options = help.slice(help.indexOf('\nOptions:\n'), help.indexOf('\n\n', help.indexOf('\nOptions:\n') + 10))
  const shown: Record<string, string> = {}
  for (const entry of options.split(/\n(?=\s+-)/)) {
    const flag = /--[a-z-]+/.exec(entry)?.[0]
    const value = /\(default: ([^)]*)\)\s*$/.exec(entry.replace(/\s+/g, ' '))?.[1]
    if (flag !== undefined && value !== undefined) shown[flag] = value
  }
  return shown
}

describe('--help shows each default as a user types it', () => {
  it('tm-master', async () => {
    const proc = await run(MASTER_BIN, ['--help'])
    expect(proc.exit).toEqual({ code: 0, signal: null })
    expect(proc.stdout).toContain('(default: 127.0.0.1:5050)')
    expect(proc.stdout).toContain('(default: 10000)')
    expect(defaultsShown(proc.stdout)).toEqual({
      '--key': "the module's file name",
      '--state-dir': './.taskmaster',
      '--host': '127.0.0.1:5050',
      '--size': '10000',
      '--concurrency': '1',
      '--prefetch': 'adaptive',
      '--batch': '100',
      '--linger': '10',
      '--rate': 'no limit',
      '--retries': '3',
      '--retry-delay': '1',
      '--job-timeout': '0',
      '--heartbeat': '5',
      '--max-frame': '16777216',
      '--max-in-flight': 'no limit',
      '--max-slaves': '10000',
      '--throttle-interval': '1',
      '--batch-size': '1000',
      '--status-interval': '10',
      '--stats-interval': '1',
      '--log-format': 'text',
    })
  })

  it('tm-slave', async () => {
    const proc = await run(SLAVE_BIN, ['--help'])
    expect(proc.exit).toEqual({ code: 0, signal: null })
    expect(defaultsShown(proc.stdout)).toEqual({
      '--host': '127.0.0.1:5050',
      '--concurrency': '1',
      '--prefetch': 'adaptive, from the job rate and round trip',
      '--batch': '100',
      '--linger': '10',
      '--setup-timeout': '60',
      '--procs': '1',
      '--reconnect': '60',
      '--max-frame': '16777216',
      '--log-format': 'text',
    })
  })
})

describe('tm-ctl --help', () => {
  it('lists the commands that steer a live master, and each explains itself with an example', async () => {
    const help = await run(CTL_BIN, ['--help'])
    const commands = help.stdout
      .slice(help.stdout.indexOf('Commands:'))
      .split('\n')
      .map((line) => /^ {2}(\S+)/.exec(line)?.[1])
      .filter((name) => name !== undefined)
    expect(commands).toEqual(['status', 'list', 'pause', 'resume', 'rate', 'max-in-flight', 'stop', 'help'])
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(
      'list [options] list every run of a state dir, or of the PostgreSQL of --state-store',
    )
    for (const [command, words, example] of [
      ['pause', /the pause outlives a restart/, 'tm-ctl pause --host 10.0.0.5:5050 --token s3cret'],
      ['resume', /resume dispatch/, 'tm-ctl resume --host 10.0.0.5:5050'],
      ['rate', /Usage: tm-ctl rate \[options\] <jobs\/s\|off>/, 'tm-ctl rate 500 --host 10.0.0.5:5050'],
      ['max-in-flight', /Usage: tm-ctl max-in-flight \[options\] <n\|off>/, 'tm-ctl max-in-flight 64 --host 10.0.0.5:5050'],
      ['stop', /as on SIGINT/, 'tm-ctl stop --host 10.0.0.5:5050'],
    ] as const) {
      const text = await run(CTL_BIN, [command, '--help'])
      expect(text.exit).toEqual({ code: 0, signal: null })
      expect(text.stdout.replace(/\s+/g, ' ')).toMatch(words)
      expect(text.stdout).toContain(
        `Exits 1 if the master cannot be reached,\n2 if it refuses (no or wrong token, a bad value).\n\nExample:\n  ${example}\n`,
      )
    }
  })

  it('list explains the states it shows, where it looks and its exit codes, with examples', async () => {
    const text = await run(CTL_BIN, ['list', '--help'])
    expect(text.exit).toEqual({ code: 0, signal: null })
    expect(text.stdout).toMatch(/^Usage: tm-ctl list \[options\]\n/)
    for (const line of [
      '  --state-dir <dir>    where run state is kept (default: "./.taskmaster")',
      '  running   a master holds its lock (a live process, or a lease whose session is open)',
      '  stopped   no master holds it and it is not complete: start it again with its --key to resume',
      '  failed    every job finished, some failed: see its failed-jobs log, or --retry-failed',
      '  tm-ctl list --state-store postgres://user@db/app       # the runs kept in PostgreSQL',
    ])
      expect(text.stdout.split('\n')).toContain(line)
    expect(text.stdout.replace(/\s+/g, ' ')).toContain(
      'Exits 2 if there is no such state dir, or the URL is not postgres:// or is refused (its login, its database), 1 if the PostgreSQL cannot be reached.',
    )
  })
})
