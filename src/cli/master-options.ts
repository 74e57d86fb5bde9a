import { InvalidArgumentError } from './commander.js'
import { POSITIVE_SECONDS, integers } from '../bounds.js'
import { MASTER_OPTIONS, SLAVE_OPTIONS } from '../option-specs.js'
import type { MasterOptions } from '../options.js'
import { MAX_SHARDS, parseShard } from '../shard.js'
import type { CliTable, CliValues } from './option-table.js'
import { forSpawn, fromSpec } from './option-table.js'
import { MAX_LOCAL_SLAVES } from '../slave/local-slaves.js'
import { logFormat } from './log-format.js'
import { listenAddress } from './parse.js'

const shard = (text: string) => parseShard(text) ?? fail(`must be i/n with 1 <= i <= n <= ${MAX_SHARDS} (e.g. 2/3), got '${text}'`)
const fail = (message: string): never => {
  throw new InvalidArgumentError(message)
}

const M = MASTER_OPTIONS
const S = SLAVE_OPTIONS
const { host, port } = MASTER_OPTIONS

/**
 * Every option of `tm-master`, in help order. An option of the library's is its spec
 * ({@link fromSpec}: flags, help, default, range, all in src/option-specs.ts); the others
 * are read by the command itself (run identity, local slaves, TLS files, display). Those
 * marked `spawn` are passed on to the local slaves of --spawn.
 */
export const MASTER_CLI = {
  key: { flags: '-k, --key <name>', help: "the run's name; its state is <state-dir>/<name>.json", shown: "the module's file name" },
  stateDir: fromSpec('stateDir', M.stateDir),
  stateStore: fromSpec('stateStore', M.stateStore),
  standby: fromSpec('standby', M.standby),
  reset: { flags: '--reset', help: 'forget the saved state of the key and start from the beginning' },
  acceptJournalLoss: fromSpec('acceptJournalLoss', M.acceptJournalLoss),
  shard: { ...fromSpec('shard', M.shard), parse: shard },
  retryFailed: {
    flags: '--retry-failed',
    help: "run the jobs of the key's failed-jobs log again, as a pass of their own (the log is rotated, not lost); give the name=value arguments the handler needs, as a rule the run's",
  },
  host: {
    flags: '-H, --host <host:port>',
    help: 'where to listen; port 0 picks a free port',
    parse: listenAddress,
    default: { host: host.default, port: port.default },
    shown: `${host.default}:${port.default}`,
    to: (value: { host: string; port: number }, into: Partial<MasterOptions>) => {
      into.host = value.host
      into.port = value.port
    },
  },
  size: fromSpec('size', M.size),
  spawn: {
    flags: '--spawn <n>',
    help: 'also start n local slave processes running --handler (one-machine mode)',
    bounds: integers(1, MAX_LOCAL_SLAVES),
  },
  handler: { flags: '--handler <module>', help: 'handler module for --spawn: path[:export], default export handleJob, then default' },
  concurrency: forSpawn('concurrency', S.concurrency, 'with --spawn: jobs each local slave runs at once'),
  prefetch: forSpawn('prefetch', S.prefetch, 'with --spawn: a fixed window, jobs each local slave holds beyond those running', 'adaptive'),
  batch: forSpawn('batch', S.batch, 'with --spawn and a handleBatch handler: most jobs per call'),
  linger: forSpawn('linger', S.linger, 'with --spawn and handleBatch: milliseconds to wait for a batch to fill'),
  token: fromSpec('token', M.token),
  retries: fromSpec('retries', M.retries),
  retryDelay: fromSpec('retryDelay', M.retryDelay),
  jobTimeout: fromSpec('jobTimeout', M.jobTimeout),
  heartbeat: fromSpec('heartbeat', M.heartbeat),
  maxFrame: { ...fromSpec('maxFrame', M.maxFrame), spawn: true },
  maxSlaves: fromSpec('maxSlaves', M.maxSlaves),
  rate: fromSpec('rate', M.rate),
  maxInFlight: fromSpec('maxInFlight', M.maxInFlight),
  paused: fromSpec('paused', M.paused),
  throttle: {
    flags: '--throttle <module>',
    help: 'hold dispatch while this check says so: path[:export], default export throttle, then default; called with { args, signal }, returns false to go on, true or a reason to hold',
  },
  throttleInterval: fromSpec('throttleInterval', M.throttleInterval),
  batchSize: fromSpec('batchSize', M.batchSize),
  tlsCert: { flags: '--tls-cert <file>', help: 'serve wss:// with this certificate (PEM); needs --tls-key' },
  tlsKey: { flags: '--tls-key <file>', help: 'private key (PEM) of --tls-cert' },
  statusInterval: {
    flags: '--status-interval <seconds>',
    help: 'seconds between status lines when stdout is not a terminal',
    bounds: POSITIVE_SECONDS,
    default: 10,
  },
  stats: {
    flags: '--stats <file>',
    help: "append the status document as one JSON object a line to <file> every --stats-interval ('-': stdout, the other output then goes to stderr)",
  },
  statsInterval: { flags: '--stats-interval <seconds>', help: 'seconds between --stats lines', bounds: POSITIVE_SECONDS, default: 1 },
  logFormat: {
    flags: '--log-format <format>',
    help: 'log lines as text, or json: one object a line ({ time, level, message, key })',
    parse: logFormat,
    default: 'text',
    spawn: true,
  },
  slaves: { flags: '--slaves', help: 'show the table of slaves with the status (on a terminal, the key s toggles it)' },
  quiet: { flags: '-q, --quiet', help: 'no status line' },
} as const satisfies CliTable<MasterOptions>

/** What commander hands the `tm-master` action. */
export type MasterCliOptions = CliValues<typeof MASTER_CLI, MasterOptions>
