import { Command } from './commander.js'
import { EXIT_NO_MASTER } from '../errors.js'
import { loadHandlerModule } from '../module-loader.js'
import { SLAVE_EXIT_RESTART } from '../slave/abandoned.js'
import { Slave } from '../slave/slave.js'
import { LocalSlaves } from '../slave/local-slaves.js'
import { masterHandover } from '../slave/master-handover.js'
import { parentGone } from '../slave/parent-watch.js'
import { jsonLogLine, printable } from './log-format.js'
import { addOptions, asFlagError, libraryOptions } from './option-table.js'
import { readCa } from './parse.js'
import { SLAVE_CLI } from './slave-options.js'
import type { SlaveCliOptions } from './slave-options.js'
import { onStopSignals, runCli, signalExitCode } from './run-cli.js'
import { PACKAGE } from './version.js'

/** Builds the `tm-slave` command. */
export function slaveCommand(): Command {
  const command = new Command('tm-slave')
    .version(`${PACKAGE.name} ${PACKAGE.version}`, '-V, --version', 'print the version and exit')
    .description('Run a Taskmaster slave: connect to the master, pull jobs and run the handler of <module> on each.')
    .argument(
      '<module>',
      'handler module (.ts, .mts, .js, .mjs): path[:export], default export handleJob, then default; or one of the package by name (taskmaster-run/pg/sql)',
    )
  return addOptions(command, SLAVE_CLI)
    .addHelpText(
      'after',
      `
The handler is called as handleJob(job, { attempt, signal }), sync or async; a throw or a
rejected promise fails the attempt (the master retries it, then writes it to the failed-jobs
log). signal is aborted when the master takes the job back (--job-timeout).

Exit codes: 0 the run is complete (or, with --reconnect 0, stopped by SIGINT/SIGTERM),
1 a master kept refusing it as full (--max-slaves) for all of --reconnect, or an error,
2 bad usage, a handler module or setup that fails, refused by the master (token, protocol
version) or a master certificate that cannot be verified (--ca), ${SLAVE_EXIT_RESTART} too many jobs (or batch
calls) timed out (--job-timeout) still running in the process: start it again (--procs and
the master's --spawn do), ${EXIT_NO_MASTER} no master answered within --reconnect (none was there, or
the one it served went away mid-run and none came back, which it says): the run may
simply be over, 130/143
stopped by SIGINT/SIGTERM (after finishing and reporting the jobs running).

Examples:
  TM_TOKEN=s3cret tm-slave ./handler.ts:handleJob --host 10.0.0.5:5050 --concurrency 16
  TM_TOKEN=s3cret tm-slave ./handler.ts --host 10.0.0.5:5050 --reconnect 0   # stays up between runs`,
    )
    .action(async (moduleSpec: string, options: SlaveCliOptions) => {
      process.exitCode = options.procs > 1 ? await runProcs(options.procs) : await runSlave(moduleSpec, options)
    })
}

async function runSlave(moduleSpec: string, options: SlaveCliOptions): Promise<number> {
  const ca = readCa(options.ca)
  // A local slave ends with the process that started it; started with its master, it asks
  // for the master's address now, and loads its handler meanwhile.
  const parent = parentGone()
  const handover = masterHandover()
  handover.catch(() => undefined)
  const module = await loadHandlerModule(moduleSpec)
  const master = await handover
  let slave: Slave
  try {
    const token = master?.token === undefined ? {} : { token: master.token }
    slave = new Slave({ ...libraryOptions(SLAVE_CLI, options), ...module, host: master?.host ?? options.host, ca, ...token })
  } catch (error) {
    throw asFlagError(SLAVE_CLI, error)
  }
  const say = (level: 'info' | 'warn', message: string): void => {
    if (!options.quiet || level === 'warn')
      process.stderr.write(
        printable(
          options.logFormat === 'json' ? jsonLogLine(level, message, { pid: process.pid }) : `tm-slave[${process.pid}]: ${message}`,
        ) + '\n',
      )
  }
  slave.on('log', ({ level, message }) => say(level, message))
  const firstSignal = onStopSignals(() => slave.stop())
  void parent?.then(() => {
    say('warn', 'The process that started this slave is gone: stopping')
    slave.stop()
  })
  const summary = await slave.run()
  const signal = firstSignal()
  if (summary.outcome === 'restart') return signal !== undefined ? signalExitCode(signal) : SLAVE_EXIT_RESTART
  // A long-lived slave's life normally ends with a signal: that is a clean stop.
  return summary.outcome === 'stopped' && signal !== undefined && options.reconnect !== 0 ? signalExitCode(signal) : 0
}

/**
 * `--procs n`: n slave processes, each in its own process group; signals are passed on
 * (each one, so a second SIGINT stops them at once). A child that exits to restart (too
 * many abandoned jobs) is started again; any other exit is its last. Exits with the highest code.
 */
function runProcs(procs: number): Promise<number> {
  const slaves = new LocalSlaves({
    count: procs,
    // Each child is told --procs 1 last (the last occurrence wins, whatever form the
    // user's took: -p4, -p 4, --procs=4), so no child starts children of its own.
    args: [...process.argv.slice(2), '--procs', '1'],
    // The children run under the node flags this process was started with (`node <flags> tm-slave`).
    execArgv: process.execArgv,
    restartCrashed: false,
    // A slave stopping gracefully finishes its running jobs, however long they take.
    killAfter: 0,
  })
  onStopSignals((signal) => void slaves.stop(signal))
  slaves.start()
  return slaves.exited()
}

/** Entry point of `bin/tm-slave.js`. */
export function main(argv: string[] = process.argv): Promise<never> {
  return runCli(slaveCommand(), argv)
}
