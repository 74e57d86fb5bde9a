import { MASTER_DEFAULTS, OPTION_LIMITS, SLAVE_DEFAULTS } from '../options.js'
import type { SlaveOptions } from '../options.js'
import { MIN_FRAME } from '../protocol/messages.js'
import type { CliTable, CliValues } from './option-table.js'
import { logFormat } from './log-format.js'
import { integer, positiveSeconds, seconds } from './parse.js'

/**
 * Every option of `tm-slave`, in help order (see MASTER_CLI). `--ca` is a file the command
 * reads; `--procs` and `--quiet` are the command's own.
 */
export const SLAVE_CLI = {
  host: {
    flags: '-H, --host <host:port>',
    help: "the master's address (host:port, ws://host:port or wss://host:port)",
    default: `${MASTER_DEFAULTS.host}:${MASTER_DEFAULTS.port}`,
    to: 'host',
  },
  concurrency: { flags: '-c, --concurrency <n>', help: 'jobs run at once in each slave process', parse: integer(1, OPTION_LIMITS.concurrency), default: SLAVE_DEFAULTS.concurrency, to: 'concurrency' },
  prefetch: { flags: '--prefetch <n>', help: 'a fixed window: jobs held beyond those running, always', parse: integer(0, OPTION_LIMITS.prefetch), shown: 'adaptive, from the job rate and round trip', to: 'prefetch' },
  batch: { flags: '--batch <n>', help: 'with a handleBatch handler: most jobs per call', parse: integer(1, OPTION_LIMITS.batch), default: SLAVE_DEFAULTS.batch, to: 'batch' },
  linger: { flags: '--linger <ms>', help: 'with handleBatch: milliseconds to wait for a batch to fill before running a smaller one', parse: integer(0, OPTION_LIMITS.linger), default: SLAVE_DEFAULTS.linger, to: 'linger' },
  setupTimeout: { flags: '--setup-timeout <seconds>', help: "how long the handler module's setup and teardown may each take", parse: positiveSeconds, default: SLAVE_DEFAULTS.setupTimeout, to: 'setupTimeout' },
  procs: { flags: '-p, --procs <n>', help: 'slave processes to start (one per core for CPU-bound handlers)', parse: integer(1), default: 1 },
  token: { flags: '--token <secret>', help: "the run's token, if the master needs one", env: 'TM_TOKEN', to: 'token' },
  reconnect: {
    flags: '--reconnect <seconds>',
    help: 'keep trying to reach the master this long before giving up; 0: forever, and serve run after run (exit 0 on SIGTERM)',
    parse: seconds,
    default: SLAVE_DEFAULTS.reconnect,
    to: 'reconnect',
  },
  ca: { flags: '--ca <file>', help: 'CA certificate (PEM) to trust for wss:// (a self-signed master certificate)' },
  maxFrame: { flags: '--max-frame <bytes>', help: 'largest frame accepted', parse: integer(MIN_FRAME, OPTION_LIMITS.maxFrame), default: SLAVE_DEFAULTS.maxFrame, to: 'maxFrame' },
  quiet: { flags: '-q, --quiet', help: 'no log lines about connections' },
  logFormat: { flags: '--log-format <format>', help: 'log lines as text, or json: one object a line ({ time, level, message, pid })', parse: logFormat, default: 'text' },
} as const satisfies CliTable<SlaveOptions>

/** What commander hands the `tm-slave` action. */
export type SlaveCliOptions = CliValues<typeof SLAVE_CLI>
