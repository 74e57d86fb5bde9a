import { readFileSync } from 'node:fs'
import { Command } from './commander.js'
import { OptionError } from '../errors.js'
import type { Master, RunSummary } from '../master/master.js'
import { loadThrottle } from '../master/engine/throttle.js'
import { loadHandlerModule, loadJobSource, parseModuleSpec } from '../module-loader.js'
import type { MasterOptions } from '../options.js'
import { formatCount, formatDuration, formatSeconds } from './format.js'
import { jsonLocalSlaveLine, jsonLogLine, printableLines } from './log-format.js'
import { MASTER_CLI } from './master-options.js'
import type { MasterCliOptions } from './master-options.js'
import { addOptions, asFlagError, libraryOptions } from './option-table.js'
import { nameValueArgs } from './parse.js'
import { onStopSignals, runCli, signalExitCode } from './run-cli.js'
import { PACKAGE } from './version.js'
import { pageLine } from './page-address.js'
import { hideInError } from '../redact.js'
import { StatusDisplay } from './status-display.js'
import { resumeMessage } from './status-line.js'
import { StatsStream } from './stats-stream.js'
import { SpawnedSlaves } from './spawned-slaves.js'

/** Builds the `tm-master` command. */
export function masterCommand(): Command {
  const command = new Command('tm-master')
    .version(`${PACKAGE.name} ${PACKAGE.version}`, '-V, --version', 'print the version and exit')
    .description('Run the master of a Taskmaster run: iterate the job generator of <module> and hand the jobs to slaves.')
    .argument(
      '<module>',
      'jobs module (.ts, .mts, .js, .mjs) with its generator export: path[:export], default export getJobs, then default; or one of the package by name (taskmaster-run/pg/table)',
    )
    .argument('[args...]', 'name=value arguments, handed to the generator as ctx.args and saved with the run')
  return addOptions(command, MASTER_CLI)
    .addHelpText(
      'after',
      `
The generator is called as getJobs(last, ctx): last is undefined on a fresh run, else the key of
the last job known done; ctx.position counts the jobs known done; ctx.args holds the name=value
arguments. A job's key is key(job) if the module exports key, else job.id, else the job itself
(number, string, bigint), else its position.

Exit codes: 0 complete, 1 complete with failed jobs or stopped by an error, 2 bad usage (the
jobs source's check refused the run, a local slave could not start its handler, ...),
130/143 stopped by SIGINT (or tm-ctl stop)/SIGTERM (start again with the same --key to resume).

While it runs, tm-ctl pause|resume|rate|max-in-flight|stop --host <this master> steers it
(POST /pause, /resume, /rate, /max-in-flight, /stop on its port, with its token). A run
paused when its master stops starts paused again until resumed; --rate and --max-in-flight
come from the flags at each start.

Examples:
  tm-master ./jobs.ts --key demo --spawn 2 --handler ./handler.ts:handleJob      # all on this machine
  TM_TOKEN=s3cret tm-master ./jobs.ts table=posts --key posts-backfill --host 0.0.0.0:5050
  tm-master ./jobs.ts table=posts --key posts-backfill --retry-failed          # only the failed jobs
  tm-master taskmaster-run/pg/table db=env:DATABASE_URL table=users --key users-domain --spawn 2 \\
    --handler taskmaster-run/pg/sql sql="UPDATE users SET ... WHERE id = ANY(\\$1)" --batch 1000   # no code: docs/postgres.md`,
    )
    .action(async (moduleSpec: string, words: string[], options: MasterCliOptions) => {
      process.exitCode = await runMaster(moduleSpec, words, options)
    })
}

function defaultKey(moduleSpec: string): string {
  const file = parseModuleSpec(moduleSpec).path.split(/[\\/]/).pop() ?? 'run'
  return file.replace(/\.(c|m)?(t|j)s$/, '') || 'run'
}

function readTls(options: MasterCliOptions): { cert: Buffer; key: Buffer } | undefined {
  if (options.tlsCert === undefined && options.tlsKey === undefined) return undefined
  if (options.tlsCert === undefined || options.tlsKey === undefined) throw new OptionError('--tls-cert and --tls-key go together')
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (error) {
      throw new OptionError(`Cannot read ${flag} '${file}': ${(error as Error).message}`)
    }
  }
  return { cert: read(options.tlsCert, '--tls-cert'), key: read(options.tlsKey, '--tls-key') }
}

/** How the master's own lines are written: as they are (`--log-format text`), or each a JSON log line of the run. */
type LineFormat = (line: string) => string

function lineFormat(cli: MasterCliOptions, key: string): LineFormat {
  return cli.logFormat === 'json' ? (line) => jsonLogLine('info', line, { key }) : (line) => line
}

/**
 * Writes `lines` to `out`, each as one line (a JSON object with --log-format json): the
 * lines the master writes itself (the display writes its own and the log's), escaped like
 * those (see printable).
 */
function say(out: NodeJS.WritableStream, format: LineFormat, ...lines: string[]): void {
  out.write(printableLines(lines.map(format)))
}

/** The whole run's figures, for a run that an earlier master started. */
function wholeRunLine(summary: RunSummary): string {
  const t = summary.totals
  return `Whole run '${summary.key}': ${formatCount(t.done + t.failed)} jobs (${formatCount(t.done)} done, ${formatCount(t.failed)} failed) in ${formatDuration(t.elapsedMs)}`
}

/**
 * The lines that end a run: what it did (its time from listening; the start, from launch to
 * listening, beside it), and where its failed jobs are.
 */
function summaryLines(summary: RunSummary, startMs: number): string[] {
  const rate = `${summary.rate.toFixed(2)} jobs/s`
  const took = formatDuration(summary.elapsedMs)
  const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped as already done` : ''
  const counts = `${summary.jobs} jobs (${summary.done} done, ${summary.failed} failed${skipped}) in ${took}, ${rate} (started in ${formatSeconds(startMs)})`
  if (summary.outcome === 'complete') {
    const failed =
      summary.totals.failed > 0 ? [`${summary.totals.failed} jobs failed; see ${summary.failedLog} (re-run them with --retry-failed)`] : []
    return [`Run '${summary.key}' complete: ${counts}`, ...failed]
  }
  return [`Run '${summary.key}' stopped: ${counts}. Start it again with --key ${summary.key} to resume.`]
}

/** The master's library: most of what tm-master loads (the engine, its state stores, its HTTP surface, ws). */
type MasterLibrary = typeof import('../master/master.js')

/**
 * The master of the run, or with --retry-failed of its retry pass (undefined, said so, when
 * the run has no failed jobs). A library error about an option names its flag.
 */
async function openMaster(
  library: MasterLibrary,
  options: MasterOptions & { key: string },
  cli: MasterCliOptions,
): Promise<Master | undefined> {
  const { Master } = library
  if (cli.retryFailed && cli.reset) throw new OptionError('--retry-failed and --reset do not go together')
  try {
    if (!cli.retryFailed) return new Master(options)
    const pass = await Master.retryFailed(options)
    if (pass === undefined) {
      say(process.stdout, lineFormat(cli, options.key), `Run '${options.key}' has no failed jobs to retry.`)
      return undefined
    }
    say(
      process.stdout,
      lineFormat(cli, options.key),
      `${pass.resumed ? 'Resuming the retry of' : 'Retrying'} ${pass.count} failed jobs of run '${options.key}' (from ${pass.log}) as run '${pass.master.options.key}'`,
    )
    return pass.master
  } catch (error) {
    throw asFlagError(MASTER_CLI, error)
  }
}

/**
 * What tm-master exits with after `summary`: a stop by signal (or `tm-ctl stop`, as SIGINT)
 * as by that signal, local slaves that could not start 2 (they exited 2: a handler that
 * cannot load or set up, a user's mistake), failed jobs 1.
 */
function exitCode(summary: RunSummary, slavesFailed: boolean, signal: NodeJS.Signals | undefined, stopAsked: boolean): number {
  if (slavesFailed) return 2
  if (signal !== undefined && summary.outcome === 'stopped') return signalExitCode(signal)
  if (stopAsked && summary.outcome === 'stopped') return signalExitCode('SIGINT')
  return summary.totals.failed > 0 ? 1 : 0
}

/** The local slaves of --spawn (checked with --handler), not started; undefined without --spawn. */
function spawnedSlaves(options: MasterCliOptions): SpawnedSlaves | undefined {
  if (options.spawn !== undefined && options.handler === undefined)
    throw new OptionError('--spawn needs --handler <module> (the handler the local slaves run)')
  if (options.handler !== undefined && options.spawn === undefined) throw new OptionError('--handler goes with --spawn <n>')
  return options.spawn === undefined || options.handler === undefined
    ? undefined
    : new SpawnedSlaves({ ...options, spawn: options.spawn, handler: options.handler })
}

/**
 * Each of `loads` settled: their values, or the error of the first in their order that
 * failed (loaded side by side, the same error is told whichever finishes first).
 */
async function allLoaded<T extends readonly unknown[]>(loads: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(loads)
  for (const result of settled) if (result.status === 'rejected') throw result.reason
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T
}

/**
 * The library's options of the command line: its arguments, its flags and the modules they
 * name, loaded side by side (the handler only to check it: the local slaves run it).
 */
async function masterOptions(
  moduleSpec: string,
  args: Record<string, string>,
  tls: MasterOptions['tls'],
  options: MasterCliOptions,
): Promise<MasterOptions & { key: string }> {
  const [source, , throttle] = await allLoaded([
    loadJobSource(moduleSpec),
    options.handler === undefined ? Promise.resolve(undefined) : loadHandlerModule(options.handler),
    options.throttle === undefined ? Promise.resolve(undefined) : loadThrottle(options.throttle),
  ] as const)
  const key = options.key ?? defaultKey(moduleSpec)
  return { ...libraryOptions(MASTER_CLI, options), source, key, args, reset: options.reset, tls, throttle }
}

/** What tm-master shows of a master while it runs, and the local slaves it starts. */
interface MasterOutputs {
  /** Where the lines for people go: stdout, or stderr when the stats stream has stdout. */
  readonly out: NodeJS.WriteStream
  /** A local slave could not start (the run was stopped for it). */
  readonly slavesFailed: boolean
  /** `tm-ctl stop` asked the stop (the command exits as after SIGINT). */
  readonly stopAsked: boolean
  /** Milliseconds from this process's launch to listening (0 before it listens). */
  readonly startMs: number
  /** How the master's own lines are written (--log-format). */
  readonly format: LineFormat
  /** Stops the display and the stats stream, and the local slaves. */
  stop(): Promise<void>
}

/**
 * Shows `master` as the flags say: the start lines (with the time from launch to
 * listening), the status display, the log, the stats stream, the lines of the local slaves
 * of --spawn; hands them the master's address once it listens (the others start then).
 */
function showMaster(master: Master, options: MasterCliOptions, slaves: SpawnedSlaves | undefined): MasterOutputs {
  let stopAsked = false
  master.on('control', ({ change }) => {
    if (change.kind === 'stopping' || change.kind === 'stopping-at-once') stopAsked = true
  })
  // With the stats stream on stdout, what is for people goes to stderr: stdout stays JSON lines.
  const out = options.stats === '-' ? process.stderr : process.stdout
  const tty = out.isTTY === true
  const format = lineFormat(options, master.options.key)
  const display = new StatusDisplay(master, {
    tty,
    interval: options.statusInterval,
    out,
    err: process.stderr,
    slaves: options.slaves === true,
    input: tty ? process.stdin : undefined,
    format,
  })
  let slavesFailed = false
  let startMs = 0
  const json = options.logFormat === 'json'
  const log = (level: string, text: string): void => {
    const message = master.redact(text)
    display.log(json ? jsonLogLine(level, message, { key: master.options.key }) : message)
  }
  const stats =
    options.stats === undefined
      ? undefined
      : new StatsStream(master, options.stats, options.statsInterval, process.stdout, (message) => log('warn', message))
  master.on('log', ({ level, message }) => log(level, message))
  slaves?.show({
    line: (text) => {
      const line = master.redact(text)
      display.log(json ? jsonLocalSlaveLine(line) : line)
    },
    fatal: (message) => {
      log('error', message)
      slavesFailed = true
      master.stop()
    },
    wanted: () => master.status().run.state === 'running',
  })
  master.on('listening', (address) => {
    // performance.now() counts from this process's launch.
    startMs = performance.now()
    say(out, format, `Taskmaster server running on '${address.hostPort}' (started in ${formatSeconds(startMs)})`)
    if (master.tokenGenerated) say(out, format, `Token (give it to slaves with --token or TM_TOKEN): ${master.token}`)
    say(out, format, pageLine(address, master.token, { tls: master.options.tls !== undefined, terminal: tty }))
    const resuming = resumeMessage(master.status())
    if (resuming !== undefined) say(out, format, resuming)
    slaves?.listening(address.url, master.token)
    if (!options.quiet) display.start()
    stats?.start()
  })
  return {
    out,
    format,
    get slavesFailed() {
      return slavesFailed
    },
    get stopAsked() {
      return stopAsked
    },
    get startMs() {
      return startMs
    },
    async stop() {
      display.stop()
      stats?.stop()
      await slaves?.stop()
    },
  }
}

async function runMaster(moduleSpec: string, words: string[], options: MasterCliOptions): Promise<number> {
  // What can be checked at once is, before a slave starts.
  const args = nameValueArgs(words)
  const tls = readTls(options)
  const slaves = spawnedSlaves(options)
  // Local slaves start with the master, and once its modules are loaded (a standby's once it takes over): see SpawnedSlaves.
  if (!options.standby) slaves?.startEarly()
  let master: Master | undefined
  try {
    // Loaded once the slaves started, and before the user's modules: once tsx's hooks are
    // registered, every module loaded goes through them.
    const library = await import('../master/master.js')
    const loaded = await masterOptions(moduleSpec, args, tls, options)
    if (!options.standby) slaves?.startRest()
    master = await openMaster(library, loaded, options)
  } finally {
    if (master === undefined) await slaves?.stop()
  }
  if (master === undefined) return 0
  const outputs = showMaster(master, options, slaves)
  const firstSignal = onStopSignals(() => master.stop())
  // Said once a stop is handled: whoever reads it may stop the standby at once.
  if (master.options.standby)
    say(
      outputs.out,
      outputs.format,
      `Standing by for run '${master.options.key}': waiting for the active master's lease in the state store`,
    )
  let summary: RunSummary
  try {
    summary = await master.run()
  } catch (error) {
    throw hideInError(error, master.redact)
  } finally {
    await outputs.stop()
  }
  if (summary.outcome === 'already-complete') {
    say(
      outputs.out,
      outputs.format,
      `Run '${summary.key}' is already complete (${summary.totals.done} jobs done, ${summary.totals.failed} failed). Use --reset to run it again, or another --key.`,
    )
    return 0
  }
  say(outputs.out, outputs.format, ...summaryLines(summary, outputs.startMs))
  if (master.status().run.resumed) say(outputs.out, outputs.format, wholeRunLine(summary))
  return exitCode(summary, outputs.slavesFailed, firstSignal(), outputs.stopAsked)
}

/** Entry point of `bin/tm-master.js`. */
export function main(argv: string[] = process.argv): Promise<never> {
  return runCli(masterCommand(), argv)
}
