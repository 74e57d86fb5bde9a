import { integers } from '../bounds.js'
import { MASTER_OPTIONS, SLAVE_OPTIONS } from '../option-specs.js'
import type { SlaveOptions } from '../options.js'
import type { CliTable, CliValues } from './option-table.js'
import { fromSpec } from './option-table.js'
import { MAX_LOCAL_SLAVES } from '../slave/local-slaves.js'
import { logFormat } from './log-format.js'

const S = SLAVE_OPTIONS

/**
 * Every option of `tm-slave`, in help order (see MASTER_CLI). `--host` and `--ca` are read
 * by the command (an address, a file); `--procs` and `--quiet` are its own.
 */
export const SLAVE_CLI = {
  host: {
    flags: '-H, --host <host:port>',
    help: "the master's address (host:port, ws://host:port or wss://host:port)",
    default: `${MASTER_OPTIONS.host.default}:${MASTER_OPTIONS.port.default}`,
    to: 'host',
  },
  concurrency: fromSpec('concurrency', S.concurrency),
  prefetch: fromSpec('prefetch', S.prefetch),
  batch: fromSpec('batch', S.batch),
  linger: fromSpec('linger', S.linger),
  setupTimeout: fromSpec('setupTimeout', S.setupTimeout),
  procs: {
    flags: '-p, --procs <n>',
    help: 'slave processes to start (one per core for CPU-bound handlers)',
    bounds: integers(1, MAX_LOCAL_SLAVES),
    default: 1,
  },
  token: fromSpec('token', S.token),
  reconnect: fromSpec('reconnect', S.reconnect),
  ca: { flags: '--ca <file>', help: 'CA certificate (PEM) to trust for wss:// (a self-signed master certificate)' },
  maxFrame: fromSpec('maxFrame', S.maxFrame),
  quiet: { flags: '-q, --quiet', help: 'no log lines about connections' },
  logFormat: {
    flags: '--log-format <format>',
    help: 'log lines as text, or json: one object a line ({ time, level, message, pid })',
    parse: logFormat,
    default: 'text',
  },
} as const satisfies CliTable<SlaveOptions>

/** What commander hands the `tm-slave` action. */
export type SlaveCliOptions = CliValues<typeof SLAVE_CLI, SlaveOptions>
