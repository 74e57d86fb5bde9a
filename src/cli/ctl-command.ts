import { request as httpRequest } from 'node:http'
import type { IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { Command, Option } from './commander.js'
import { AuthError, ConnectionError, OptionError } from '../errors.js'
import { stateBackend } from '../master/state/state-backend.js'
import type { StateBackend } from '../master/state/state-store.js'
import { listRuns, storedFigures } from '../master/state/run-list.js'
import type { RunStatus } from '../master/engine/status.js'
import { jsonKey } from '../master/engine/status.js'
import { MASTER_OPTIONS, checkOption } from '../option-specs.js'
import { MASTER_DEFAULTS } from '../options.js'
import { savedArgsShown } from '../run-args.js'
import { isControlAnswer, isRunStatus } from './answer-shape.js'
import { formatCount, formatDuration } from './format.js'
import { printableJson, printableLines } from './log-format.js'
import { MASTER_CLI } from './master-options.js'
import { asFlagError, bounded } from './option-table.js'
import { runListText } from './run-list-text.js'
import { readCa } from './parse.js'
import { runCli } from './run-cli.js'
import { controlsText, slavesTable, statusLine } from './status-line.js'
import { PACKAGE } from './version.js'

/** Where a stopped run stands, read from its state (`tm-ctl status --key`): files, or the tables of --state-store. */
export interface StoredRunStatus {
  key: string
  args: Record<string, string>
  /** Every job of the generator is finished. */
  complete: boolean
  /** Jobs known finished contiguously from the first (the watermark plus one). */
  position: number
  /** Key of the watermark job: a resume starts after it; null before the first. */
  last: string | number | null
  done: number
  failed: number
  /** Milliseconds the run has run, every master of it, up to its last checkpoint. */
  elapsedMs: number
  /** When the run's first master started (ISO 8601). */
  startedAt: string
  /** When the run's state was last written: the checkpoint, or the journal file if it is newer (ISO 8601). */
  updatedAt: string
  /** True while a master holds the run's lock, or its lease (it may be running now). */
  locked: boolean
  /** The checkpoint read: a file, or the table and run of the state store. */
  checkpoint: string
  /** The run was paused when its last master stopped: the next master starts paused, until resumed. */
  paused: boolean
}

/** What commander hands the `status` action. */
interface StatusOptions {
  host?: string
  token?: string
  ca?: string
  key?: string
  stateDir: string
  stateStore?: string
  json?: boolean
}

/** What commander hands the `list` action. */
interface ListOptions {
  stateDir: string
  stateStore?: string
  json?: boolean
}

/** Builds the `tm-ctl` command. */
export function ctlCommand(): Command {
  const program = new Command('tm-ctl')
    .version(`${PACKAGE.name} ${PACKAGE.version}`, '-V, --version', 'print the version and exit')
    .description('Look at and steer Taskmaster runs from scripts and other terminals.')
  program
    .command('status')
    // Usage errors throw to runCli (exit 2) like the program's own.
    .exitOverride()
    .description("print a run's status: of a live master (--host), or of a stopped run from its state (--key): files, or --state-store")
    .addOption(
      new Option(
        '-H, --host <host:port>',
        `a live master's address (host:port, ws://, wss://) (default: ${MASTER_DEFAULTS.host}:${MASTER_DEFAULTS.port})`,
      ),
    )
    .addOption(new Option('--token <secret>', "the run's token, if the master has one").env('TM_TOKEN'))
    .addOption(new Option('--ca <file>', 'CA certificate (PEM) to trust for a wss:// master'))
    .addOption(new Option('-k, --key <name>', 'read the state of run <name> instead of asking a master (taking no lock)'))
    .addOption(new Option('--state-dir <dir>', 'where run state is kept (with --key)').default(MASTER_DEFAULTS.stateDir))
    .addOption(
      new Option('--state-store <url>', 'read run state from this PostgreSQL (postgres://...) instead of --state-dir (with --key)').env(
        'TM_STATE_STORE',
      ),
    )
    .option('--json', 'print JSON: the status document of a live master, or where a stopped run stands')
    .addHelpText(
      'after',
      `
Examples:
  tm-ctl status --host 10.0.0.5:5050 --token s3cret      # a live master
  tm-ctl status --key posts-backfill --json              # a stopped run, from ./.taskmaster
  tm-ctl status --key posts-backfill --state-store postgres://user@db/app   # from PostgreSQL`,
    )
    .action(async (options: StatusOptions) => {
      if (options.key !== undefined && options.host !== undefined)
        throw new OptionError('Give --host (a live master) or --key (a run from its state files), not both')
      const text =
        options.key !== undefined
          ? storedStatusText(await readStoredStatus(storeOf(options), options.key), options.json === true)
          : liveStatusText(await fetchStatus(options), options.json === true)
      process.stdout.write(text)
    })
  program
    .command('list')
    // Usage errors throw to runCli (exit 2) like the program's own.
    .exitOverride()
    .description(
      'list every run of a state dir, or of the PostgreSQL of --state-store: its state, done / total, failed, when it started and was last written, its arguments',
    )
    .addOption(new Option('--state-dir <dir>', 'where run state is kept').default(MASTER_DEFAULTS.stateDir))
    .addOption(
      new Option('--state-store <url>', 'list the runs kept in this PostgreSQL (postgres://...) instead of --state-dir').env(
        'TM_STATE_STORE',
      ),
    )
    .option(
      '--json',
      'print the runs as a JSON array: key, state, done, failed, total, totalEstimated, paused, startedAt, updatedAt, args, where, problem',
    )
    .addHelpText(
      'after',
      `
Newest update first. It takes no lock and no lease, and creates nothing. A run is
  running   a master holds its lock (a live process, or a lease whose session is open)
  paused    the same, and the run is paused (tm-ctl resume)
  stopped   no master holds it and it is not complete: start it again with its --key to resume
  complete  every job finished, none failed
  failed    every job finished, some failed: see its failed-jobs log, or --retry-failed
  retried   every job finished, and the failed ones were all done since by --retry-failed
  damaged   its state cannot be read: the line under the table says why
A total is the one its master last showed (~ an estimate); - is not known (a run of an
older version, a source without total()). Arguments are shown as saved: secrets masked,
one given as name=env:VAR as env:VAR. Exits 2 if there is no such state dir, or the URL is
not postgres:// or is refused (its login, its database), 1 if the PostgreSQL cannot be reached.

Examples:
  tm-ctl list                                            # the runs of ./.taskmaster
  tm-ctl list --state-dir /var/lib/backfills --json
  tm-ctl list --state-store postgres://user@db/app       # the runs kept in PostgreSQL`,
    )
    .action(async (options: ListOptions) => {
      const runs = await listRuns({ stateDir: options.stateDir, stateStore: checkedStore(options.stateStore) })
      process.stdout.write(runListText(runs, options.json === true))
    })
  for (const c of CONTROL_COMMANDS) {
    const command = program
      .command(c.name)
      // Usage errors throw to runCli (exit 2) like the program's own.
      .exitOverride()
      .description(c.help)
      .addOption(
        new Option(
          '-H, --host <host:port>',
          `the live master's address (host:port, ws://, wss://) (default: ${MASTER_DEFAULTS.host}:${MASTER_DEFAULTS.port})`,
        ),
      )
      .addOption(new Option('--token <secret>', "the run's token, if the master has one").env('TM_TOKEN'))
      .addOption(new Option('--ca <file>', 'CA certificate (PEM) to trust for a wss:// master'))
      .option('--json', "print the master's answer as JSON: { changed, change, controls }")
      .addHelpText(
        'after',
        `\nPrints what changed and the controls after it. Exits 1 if the master cannot be reached,\n2 if it refuses (no or wrong token, a bad value).\n\nExample:\n  ${c.example}`,
      )
    if (c.parse !== undefined && c.args !== undefined) {
      command.argument(
        c.args,
        c.name === 'rate'
          ? 'jobs per second over the whole fleet (fractions allowed), or off'
          : 'jobs in flight over the whole fleet, or off',
        c.parse,
      )
      command.action(async (value: number | null, options: ControlOptions) => control(options, c.path, value))
    } else command.action(async (options: ControlOptions) => control(options, c.path))
  }
  return program
}

/** The commands that steer a live master, each a POST to its control endpoint. */
const CONTROL_COMMANDS: {
  name: string
  args?: string
  help: string
  path: string
  parse?: (text: string) => number | null
  example: string
}[] = [
  {
    name: 'pause',
    help: 'pause dispatch: no new jobs go out, jobs in flight finish, slaves stay connected; the pause outlives a restart of the master until resumed',
    path: '/pause',
    example: 'tm-ctl pause --host 10.0.0.5:5050 --token s3cret',
  },
  { name: 'resume', help: 'resume dispatch after a pause (or --paused)', path: '/resume', example: 'tm-ctl resume --host 10.0.0.5:5050' },
  {
    name: 'rate',
    args: '<jobs/s|off>',
    help: 'set the fleet-wide rate limit in jobs per second, or turn it off (until the master stops: a restarted master takes its --rate)',
    path: '/rate',
    parse: bounded(MASTER_OPTIONS.rate.bounds, 'off'),
    example: 'tm-ctl rate 500 --host 10.0.0.5:5050',
  },
  {
    name: 'max-in-flight',
    args: '<n|off>',
    help: 'set the fleet-wide cap on jobs in flight, or turn it off (until the master stops)',
    path: '/max-in-flight',
    parse: bounded(MASTER_OPTIONS.maxInFlight.bounds, 'off'),
    example: 'tm-ctl max-in-flight 64 --host 10.0.0.5:5050',
  },
  {
    name: 'stop',
    help: 'stop the run gracefully, as on SIGINT: no new jobs, jobs in flight finish, the checkpoint is written (a second stop stops at once); start the master again with the same --key to resume',
    path: '/stop',
    example: 'tm-ctl stop --host 10.0.0.5:5050',
  },
]

/** Where a live master answers HTTP: its --host (host:port, ws://, wss://, http(s)://) and the CA to trust. */
interface Endpoint {
  base: string
  ca: Buffer | undefined
}

function endpointOf(options: { host?: string; ca?: string }): Endpoint {
  const host = options.host ?? `${MASTER_DEFAULTS.host}:${MASTER_DEFAULTS.port}`
  const base = /^wss:\/\//.test(host)
    ? `https://${host.slice(6)}`
    : /^ws:\/\//.test(host)
      ? `http://${host.slice(5)}`
      : /^https?:\/\//.test(host)
        ? host
        : `http://${host}`
  try {
    new URL('/status', base)
  } catch {
    throw new OptionError(`--host must be host:port, ws://host:port or wss://host:port, got '${host}'`)
  }
  const ca = readCa(options.ca)
  return { base, ca }
}

/** Sends a request to a live master; a master that cannot be reached or refuses the token is a one-line error. */
async function ask(
  endpoint: Endpoint,
  method: 'GET' | 'POST',
  path: string,
  token: string | undefined,
  body?: string,
): Promise<{ url: URL; status: number; body: string }> {
  const url = new URL(path, endpoint.base)
  const answer = await send(method, url, token, endpoint.ca, body).catch((error: Error) => {
    // A control sent to a master that is stalled (stopped, swapping) may still apply when it wakes.
    if (method === 'POST' && error instanceof NoAnswer && error.sent)
      throw new ConnectionError(
        `The master at ${url.host} did not answer within 10 s; the request was sent and may still apply when the master answers (check with tm-ctl status)`,
      )
    throw new ConnectionError(`Cannot reach the master at ${url.host}: ${error.message}`)
  })
  if (answer.status === 401)
    throw new AuthError(
      `The master at ${url.host} refused the request: ${token === undefined ? "it needs the run's token" : 'the token is wrong'} (give it with --token or TM_TOKEN)`,
    )
  return { url, ...answer }
}

/** The status document of a live master (`GET /status`). */
async function fetchStatus(options: StatusOptions): Promise<RunStatus> {
  const { url, status, body } = await ask(endpointOf(options), 'GET', '/status', options.token)
  if (status !== 200)
    throw new ConnectionError(`The master at ${url.host} answered ${status} to GET /status (is it a Taskmaster master of this version?)`)
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new ConnectionError(`The master at ${url.host} sent a status that is not JSON`)
  }
  if (!isRunStatus(parsed))
    throw new ConnectionError(
      `The server at ${url.host} answered GET /status with JSON that is not a Taskmaster status (is it a Taskmaster master of this version?)`,
    )
  return parsed
}

/** Options of the control commands. */
interface ControlOptions {
  host?: string
  token?: string
  ca?: string
  json?: boolean
}

/**
 * Sends a control to a live master (`POST <path>`) and prints what changed and the
 * controls after it. A master that refuses the value (400) is a usage error (exit 2).
 */
async function control(options: ControlOptions, path: string, value?: number | null): Promise<void> {
  const { url, status, body } = await ask(
    endpointOf(options),
    'POST',
    path,
    options.token,
    value === undefined ? undefined : JSON.stringify({ value }),
  )
  if (status === 400) throw new OptionError(`The master at ${url.host} refused the request: ${body.trim()}`)
  if (status !== 200)
    throw new ConnectionError(`The master at ${url.host} answered ${status} to POST ${path} (is it a Taskmaster master of this version?)`)
  let answer: unknown
  try {
    answer = JSON.parse(body)
  } catch {
    throw new ConnectionError(`The master at ${url.host} sent an answer that is not JSON`)
  }
  if (!isControlAnswer(answer))
    throw new ConnectionError(
      `The server at ${url.host} answered POST ${path} with JSON that is not a Taskmaster control answer (is it a Taskmaster master of this version?)`,
    )
  process.stdout.write(
    options.json === true ? printableJson(answer, 2) + '\n' : printableLines([answer.changed, controlsText(answer.controls)]),
  )
}

/** No answer within 10 s; `sent`: the request had been handed to the network by then. */
class NoAnswer extends Error {
  constructor(readonly sent: boolean) {
    super('no answer within 10 s')
  }
}

function send(
  method: 'GET' | 'POST',
  url: URL,
  token: string | undefined,
  ca: Buffer | undefined,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const onResponse = (res: IncomingMessage): void => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    }
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { method, headers, ca, timeout: 10_000 }, onResponse)
        : httpRequest(url, { method, headers, timeout: 10_000 }, onResponse)
    let sent = false
    req.on('finish', () => (sent = true))
    req.on('timeout', () => req.destroy(new NoAnswer(sent)))
    req.on('error', reject)
    req.end(body)
  })
}

/** A live master's status: the document as JSON, or its status line, state and slaves table. */
export function liveStatusText(status: RunStatus, json: boolean): string {
  if (json) return printableJson(status, 2) + '\n'
  const r = status.run
  const args = Object.entries(r.args)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')
  return printableLines([
    `Run '${r.key}'${args === '' ? '' : ` (${args})`}: ${r.state}${r.resumed ? `, resumed at ${formatCount(r.resumedAt)}` : ''}`,
    statusLine(status),
    ...slavesTable(status.slaves),
  ])
}

/** `--state-store`, checked as tm-master checks it: a URL that is not postgres:// is one line naming the flag (exit 2). */
function checkedStore(url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  try {
    checkOption(MASTER_OPTIONS.stateStore, url, 'stateStore')
  } catch (error) {
    throw asFlagError(MASTER_CLI, error)
  }
  return url
}

/** Where `tm-ctl status --key` reads: the PostgreSQL of --state-store, else the files of --state-dir. */
function storeOf(options: StatusOptions): StateBackend {
  return stateBackend({
    stateDir: options.stateDir,
    stateStore: checkedStore(options.stateStore),
    acceptJournalLoss: false,
    heartbeat: MASTER_DEFAULTS.heartbeat,
  })
}

/**
 * Where run `key` stands, from its checkpoint and journal (what a master resuming it would
 * find), read without its lock. Rejects with a {@link CheckpointError} when there is no such run.
 */
export async function readStoredStatus(backend: StateBackend, key: string): Promise<StoredRunStatus> {
  const stored = await backend.read(key)
  const cp = stored.checkpoint
  // Completions since the last checkpoint are in the journal: positions and counts only grow.
  const at = storedFigures(stored)
  return {
    key: cp.key,
    // A checkpoint of an older version holds the arguments in clear.
    args: savedArgsShown(cp.args, cp.env),
    complete: cp.complete,
    position: at.position,
    last: jsonKey(at.last),
    done: at.done,
    failed: at.failed,
    elapsedMs: cp.elapsed,
    startedAt: cp.startedAt,
    updatedAt: at.updatedAt,
    locked: stored.locked,
    checkpoint: stored.where,
    paused: cp.paused === true,
  }
}

/** A stored run's status as JSON, or as lines for people. */
export function storedStatusText(s: StoredRunStatus, json: boolean): string {
  if (json) return printableJson(s, 2) + '\n'
  const args = Object.entries(s.args)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')
  return printableLines([
    `Run '${s.key}': ${s.complete ? 'complete' : s.locked ? 'not complete; a master holds its lock (it may be running: ask it with --host)' : 'not complete; start it again with the same --key to resume'}`,
    ...(s.paused && !s.complete ? ['  paused     yes: the next master starts paused until resumed (tm-ctl resume)'] : []),
    `  position   ${formatCount(s.position)}${s.last === null ? '' : ` (last key ${String(s.last)}; a resume starts after it)`}`,
    `  done       ${formatCount(s.done)}`,
    `  failed     ${formatCount(s.failed)}`,
    `  arguments  ${args === '' ? '(none)' : args}`,
    `  elapsed    ${formatDuration(s.elapsedMs)}`,
    `  started    ${s.startedAt}`,
    `  written    ${s.updatedAt}`,
  ])
}

/** Entry point of `bin/tm-ctl.js`. */
export function main(argv: string[] = process.argv): Promise<never> {
  return runCli(ctlCommand(), argv)
}
