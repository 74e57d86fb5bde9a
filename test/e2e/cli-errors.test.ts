// Bad module paths, exports and arguments: one line saying what is wrong, exit 2, no stack.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, it } from 'vitest'
import { MASTER_BIN, SLAVE_BIN, cleanUp, expectUsageError, fixture, masterArgs, run, sandbox, spawnArgs } from '../helpers/proc.js'

const RANGE = fixture('range.mjs')
const RECORD = fixture('record.mjs')
const WRONG_TYPES = fixture('wrong-types.mjs')

afterEach(cleanUp)

type Case = [name: string, bin: string, args: string[], patterns: RegExp[]]

const master = (...args: string[]): [string, string[]] => [MASTER_BIN, args]
const slave = (...args: string[]): [string, string[]] => [SLAVE_BIN, args]

const cases: Case[] = [
  ['tm-master: jobs module file missing', ...master(fixture('missing.mjs')), [/Cannot find module/, /missing\.mjs/]],
  ['tm-slave: handler module file missing', ...slave(fixture('missing.mjs')), [/Cannot find module/, /missing\.mjs/]],
  [
    'tm-master: jobs module without getJobs or default',
    ...master(fixture('no-generator.mjs')),
    [/no-generator\.mjs/, /'getJobs'/, /'default'/, /exports are: listJobs, table$/],
  ],
  [
    'tm-master: --handler export missing',
    ...master(RANGE, ...spawnArgs(1, `${RECORD}:nope`)),
    [/record\.mjs/, /no export 'nope'/, /exports are: handleJob$/],
  ],
  // Loaded side by side, the jobs module's error is the one told, as when they loaded in turn.
  [
    'tm-master: jobs module and --handler both missing',
    ...master(fixture('missing.mjs'), ...spawnArgs(1, fixture('gone.mjs'))),
    [/Cannot find module/, /missing\.mjs/],
  ],
  ['tm-slave: handler export missing', ...slave(`${RECORD}:nope`), [/record\.mjs/, /no export 'nope'/, /exports are: handleJob$/]],
  ['tm-master: generator export of the wrong type', ...master(WRONG_TYPES), [/'getJobs'/, /wrong-types\.mjs/, /is a number/]],
  [
    'tm-master: default export neither a generator nor a source',
    ...master(fixture('not-a-source.mjs')),
    [
      /^tm-master: Export 'default' of module '[^']*not-a-source\.mjs' is an object; it must be a generator function .*, or a job source \(an object with getJobs, as pgTable\(\) returns\)$/,
    ],
  ],
  ['tm-slave: handler export of the wrong type', ...slave(WRONG_TYPES), [/'handleJob'/, /wrong-types\.mjs/, /is a string/]],
  ['tm-master: argument not name=value', ...master(RANGE, 'n=5', 'oops'), [/name=value/, /'oops'/]],
  ['tm-master: --size not a number', ...master(RANGE, '--size', 'abc'), [/--size/, /'abc'/]],
  ['tm-master: --size 0', ...master(RANGE, '--size', '0'), [/--size/, /'0'/]],
  ['tm-master: --size not an integer', ...master(RANGE, '--size', '1.5'), [/--size/, /'1\.5'/]],
  [
    'tm-master: --size beyond its maximum',
    ...master(RANGE, '--size', '300000000'),
    [/--size/, /must be an integer from 1 to 1000000, got '300000000'$/],
  ],
  [
    'tm-master: --batch-size beyond its maximum',
    ...master(RANGE, '--batch-size', '2000000'),
    [/--batch-size/, /must be an integer from 1 to 1000000, got '2000000'$/],
  ],
  [
    'tm-master: --max-frame beyond what ws takes',
    ...master(RANGE, '--max-frame', '4294967296'),
    [/--max-frame/, /must be an integer from 1024 to 1073741824, got '4294967296'$/],
  ],
  [
    'tm-master: --heartbeat beyond a timer',
    ...master(RANGE, '--heartbeat', '3000000'),
    [/--heartbeat/, /must be a number of seconds from 0\.1 to 604800, got '3000000'$/],
  ],
  [
    'tm-master: --retry-delay beyond a timer',
    ...master(RANGE, '--retry-delay', '1e9'),
    [/--retry-delay/, /must be a number of seconds from 0 to 604800, got '1e9'$/],
  ],
  [
    'tm-master: --job-timeout beyond a timer',
    ...master(RANGE, '--job-timeout', '2147484'),
    [/--job-timeout/, /must be a number of seconds from 0 to 604800, got '2147484'$/],
  ],
  // A token travels in an HTTP header: one tm-ctl or a browser could not send is refused at once.
  [
    'tm-master: a token with a space',
    ...master(RANGE, '--token', 'two words'),
    [/^tm-master: --token must be 1 to 1024 visible ASCII characters \(no spaces\): it travels in an HTTP header$/],
  ],
  [
    'tm-slave: a token beyond ASCII',
    ...slave(RECORD, '--token', 'é✓'),
    [/^tm-slave: --token must be 1 to 1024 visible ASCII characters \(no spaces\): it travels in an HTTP header$/],
  ],
  // An unreadable state-store URL is one line, without the URL (its password cannot be told apart).
  [
    'tm-master: a state-store URL that cannot be read',
    ...master(RANGE, '--state-store', 'postgres://u:pw-s3cret@127.0.0.1:99999/db'),
    [
      /^tm-master: --state-store must be a URL that can be read: postgres:\/\/<user>:<password>@<host>:<port>\/<database>, the port at most 65535, special characters of the password %-encoded$/,
    ],
  ],
  [
    'tm-master: --heartbeat under 0.1 s',
    ...master(RANGE, '--heartbeat', '0.001'),
    [/--heartbeat/, /must be a number of seconds from 0\.1 to 604800, got '0\.001'$/],
  ],
  // Local processes: a typo of a few zeros must not fork-bomb the machine.
  [
    'tm-master: --spawn beyond its maximum',
    ...master(RANGE, ...spawnArgs(100000)),
    [/--spawn/, /must be an integer from 1 to 256, got '100000'$/],
  ],
  [
    'tm-slave: --procs beyond its maximum',
    ...slave(RECORD, '--procs', '1000000'),
    [/--procs/, /must be an integer from 1 to 256, got '1000000'$/],
  ],
  [
    'tm-slave: --concurrency beyond its maximum',
    ...slave(RECORD, '--concurrency', '1000000'),
    [/--concurrency/, /must be an integer from 1 to 100000, got '1000000'$/],
  ],
  [
    'tm-slave: --prefetch beyond its maximum',
    ...slave(RECORD, '--prefetch', '9999999'),
    [/--prefetch/, /must be an integer from 0 to 1000000, got '9999999'$/],
  ],
  // The flag's bounds are the library option's: the error names the flag, never options.<field>.
  [
    'tm-master: --retries beyond its maximum',
    ...master(RANGE, '--retries', '300'),
    [/^error: option '--retries <n>' argument '300' is invalid\. must be an integer from 0 to 250, got '300'$/],
  ],
  [
    'tm-master: --heartbeat 0',
    ...master(RANGE, '--heartbeat', '0'),
    [/^error: option '--heartbeat <seconds>' argument '0' is invalid\. must be a number of seconds from 0\.1 to 604800, got '0'$/],
  ],
  [
    'tm-master: --throttle-interval 0',
    ...master(RANGE, '--throttle-interval', '0'),
    [
      /^error: option '--throttle-interval <seconds>' argument '0' is invalid\. must be a number of seconds over 0 and up to 604800, got '0'$/,
    ],
  ],
  // A check only the library makes still names the flag the user typed.
  [
    'tm-master: --state-store not a postgres URL',
    ...master(RANGE, '--state-store', 'mysql://db'),
    [/^tm-master: --state-store must be a postgres:\/\/ URL, got 'mysql:\/\/db'$/],
  ],
  [
    'tm-slave: --reconnect beyond a timer',
    ...slave(RECORD, '--reconnect', '99999999'),
    [/--reconnect/, /must be a number of seconds from 0 to 604800, got '99999999'$/],
  ],
]

describe('bad input on the command line', () => {
  it.each(cases)('%s', async (_name, bin, args, patterns) => {
    const box = sandbox()
    const options = bin === MASTER_BIN ? masterArgs(box, 'errors') : ['--host', '127.0.0.1:9', '--reconnect', '1']
    expectUsageError(await run(bin, [...args, ...options], { env: box.env }), ...patterns)
  })
})

describe('a state dir that cannot be made', () => {
  it('under /proc (mkdir says ENOENT under a parent that exists): one line and exit 2, not a loop at full CPU', async () => {
    const box = sandbox()
    const proc = await run(MASTER_BIN, [RANGE, 'n=3', '--key', 'errors', '--state-dir', '/proc/nope/state', '--host', '127.0.0.1:0'], {
      env: box.env,
    })
    expectUsageError(
      proc,
      /^tm-master: Cannot create state dir '\/proc\/nope\/state': ENOENT: no such file or directory, mkdir '\/proc\/nope'$/,
    )
  })
})

describe('a checkout that was never built', () => {
  it.each([
    ['tm-master', 'tm-master.js'],
    ['tm-slave', 'tm-slave.js'],
    ['tm-ctl', 'tm-ctl.js'],
  ])('%s says so in one line, exit 2', async (name, file) => {
    // bin/ as it is, beside no dist/.
    const checkout = mkdtempSync(join(tmpdir(), 'tm-unbuilt-'))
    cpSync(dirname(MASTER_BIN), join(checkout, 'bin'), { recursive: true })
    writeFileSync(join(checkout, 'package.json'), JSON.stringify({ type: 'module' }))
    try {
      expectUsageError(
        await run(join(checkout, 'bin', file), ['--help']),
        new RegExp(`^${name}: this checkout is not built \\(dist/ is missing\\): run \`npm run build\` in it, then try again$`),
      )
    } finally {
      rmSync(checkout, { recursive: true, force: true })
    }
  })
})
