import { CONTROL_LIMITS, MASTER_DEFAULTS, OPTION_LIMITS, SLAVE_DEFAULTS } from '../options.js'
import type { MasterOptions } from '../options.js'
import { MIN_FRAME } from '../protocol/messages.js'
import type { CliTable, CliValues } from './option-table.js'
import { logFormat } from './log-format.js'
import { integer, limit, listenAddress, seconds } from './parse.js'
import { InvalidArgumentError } from 'commander'
import { MAX_SHARDS, parseShard } from '../shard.js'

const shard = (text: string) => parseShard(text) ?? fail(`must be i/n with 1 <= i <= n <= ${MAX_SHARDS} (e.g. 2/3), got '${text}'`)
const fail = (message: string): never => {
  throw new InvalidArgumentError(message)
}

/**
 * Every option of `tm-master`, in help order. An option that maps 1:1 to a {@link MasterOptions}
 * field is one line here (`to`) plus its entry in the library's table; options without `to`
 * are read by the command itself (run identity, local slaves, TLS files, display).
 */
export const MASTER_CLI = {
  key: { flags: '-k, --key <name>', help: "the run's name; its state is <state-dir>/<name>.json", shown: "the module's file name" },
  stateDir: { flags: '--state-dir <dir>', help: 'where run state is kept', default: MASTER_DEFAULTS.stateDir, to: 'stateDir' },
  stateStore: { flags: '--state-store <url>', help: 'keep the run state in this PostgreSQL (postgres://...) instead of --state-dir; needs the pg package', env: 'TM_STATE_STORE', to: 'stateStore' },
  standby: { flags: '--standby', help: "with --state-store: wait for the run held by another master and take it over when that master's lease lapses (it ends, or renews nothing for 4 heartbeats)", to: 'standby' },
  reset: { flags: '--reset', help: 'forget the saved state of the key and start from the beginning' },
  acceptJournalLoss: {
    flags: '--accept-journal-loss',
    help: 'resume even if the journal is damaged: it is cut at the first bad record, and the jobs it recorded from there on run again',
    to: 'acceptJournalLoss',
  },
  shard: { flags: '--shard <i/n>', help: 'run shard i of n masters sharing the dataset: the key gets .shard-<i>-of-<n>, the generator gets ctx.shard', parse: shard, to: 'shard' },
  retryFailed: { flags: '--retry-failed', help: "run the jobs of the key's failed-jobs log again, as a pass of their own (the log is rotated, not lost)" },
  host: {
    flags: '-H, --host <host:port>',
    help: 'where to listen; port 0 picks a free port',
    parse: listenAddress,
    default: { host: MASTER_DEFAULTS.host, port: MASTER_DEFAULTS.port },
    shown: `${MASTER_DEFAULTS.host}:${MASTER_DEFAULTS.port}`,
    to: (value: { host: string; port: number }, into: Partial<MasterOptions>) => {
      into.host = value.host
      into.port = value.port
    },
  },
  size: { flags: '-s, --size <n>', help: 'buffer cap: the generator is pulled only while fewer jobs are queued', parse: integer(1, OPTION_LIMITS.size), default: MASTER_DEFAULTS.size, to: 'size' },
  spawn: { flags: '--spawn <n>', help: 'also start n local slave processes running --handler (one-machine mode)', parse: integer(1) },
  handler: { flags: '--handler <module>', help: 'handler module for --spawn: path[:export], default export handleJob, then default' },
  concurrency: { flags: '-c, --concurrency <n>', help: 'with --spawn: jobs each local slave runs at once', parse: integer(1, OPTION_LIMITS.concurrency), shown: String(SLAVE_DEFAULTS.concurrency) },
  prefetch: { flags: '--prefetch <n>', help: 'with --spawn: a fixed window, jobs each local slave holds beyond those running', parse: integer(0, OPTION_LIMITS.prefetch), shown: 'adaptive' },
  batch: { flags: '--batch <n>', help: 'with --spawn and a handleBatch handler: most jobs per call', parse: integer(1, OPTION_LIMITS.batch), shown: String(SLAVE_DEFAULTS.batch) },
  linger: { flags: '--linger <ms>', help: 'with --spawn and handleBatch: milliseconds to wait for a batch to fill', parse: integer(0, OPTION_LIMITS.linger), shown: String(SLAVE_DEFAULTS.linger) },
  token: { flags: '--token <secret>', help: 'token slaves must present; generated and printed when listening beyond loopback', env: 'TM_TOKEN', to: 'token' },
  retries: { flags: '--retries <n>', help: 'retries of a job whose handler throws, before the failed-jobs log', parse: integer(0), default: MASTER_DEFAULTS.retries, to: 'retries' },
  retryDelay: { flags: '--retry-delay <seconds>', help: 'delay before the first retry, doubling for each next one', parse: seconds, default: MASTER_DEFAULTS.retryDelay, to: 'retryDelay' },
  jobTimeout: { flags: '--job-timeout <seconds>', help: 'take back a job in flight this long as a failed attempt (0: no limit)', parse: seconds, default: MASTER_DEFAULTS.jobTimeout, to: 'jobTimeout' },
  heartbeat: { flags: '--heartbeat <seconds>', help: 'seconds between pings; a slave that answers none is dropped within two', parse: seconds, default: MASTER_DEFAULTS.heartbeat, to: 'heartbeat' },
  maxFrame: { flags: '--max-frame <bytes>', help: 'largest frame accepted or sent', parse: integer(MIN_FRAME, OPTION_LIMITS.maxFrame), default: MASTER_DEFAULTS.maxFrame, to: 'maxFrame' },
  maxSlaves: { flags: '--max-slaves <n>', help: 'most slaves at once; a slave beyond is refused and tries again later', parse: integer(1), default: MASTER_DEFAULTS.maxSlaves, to: 'maxSlaves' },
  rate: { flags: '--rate <jobs/s>', help: 'most jobs per second sent to the whole fleet (a token bucket, 250 ms of burst); change it live with tm-ctl rate', parse: limit(CONTROL_LIMITS.rate), shown: 'no limit', to: 'rate' },
  maxInFlight: { flags: '--max-in-flight <n>', help: 'most jobs in flight over the whole fleet; change it live with tm-ctl max-in-flight', parse: limit(CONTROL_LIMITS.maxInFlight), shown: 'no limit', to: 'maxInFlight' },
  paused: { flags: '--paused', help: 'start paused: no job goes out until tm-ctl resume (a run paused when its master stopped starts paused anyway)', to: 'paused' },
  throttle: { flags: '--throttle <module>', help: 'hold dispatch while this check says so: path[:export], default export throttle, then default; called with { args, signal }, returns false to go on, true or a reason to hold' },
  throttleInterval: { flags: '--throttle-interval <seconds>', help: 'seconds between throttle checks, and how long one may take before it holds dispatch', parse: seconds, default: MASTER_DEFAULTS.throttleInterval, to: 'throttleInterval' },
  batchSize: { flags: '--batch-size <n>', help: 'most jobs per frame to a slave', parse: integer(1, OPTION_LIMITS.batchSize), default: MASTER_DEFAULTS.batchSize, to: 'batchSize' },
  tlsCert: { flags: '--tls-cert <file>', help: 'serve wss:// with this certificate (PEM); needs --tls-key' },
  tlsKey: { flags: '--tls-key <file>', help: 'private key (PEM) of --tls-cert' },
  statusInterval: { flags: '--status-interval <seconds>', help: 'seconds between status lines when stdout is not a terminal', parse: seconds, default: 10 },
  stats: { flags: '--stats <file>', help: "append the status document as one JSON object a line to <file> every --stats-interval ('-': stdout, the other output then goes to stderr)" },
  statsInterval: { flags: '--stats-interval <seconds>', help: 'seconds between --stats lines', parse: seconds, default: 1 },
  logFormat: { flags: '--log-format <format>', help: 'log lines as text, or json: one object a line ({ time, level, message, key })', parse: logFormat, default: 'text' },
  slaves: { flags: '--slaves', help: 'show the table of slaves with the status (on a terminal, the key s toggles it)' },
  quiet: { flags: '-q, --quiet', help: 'no status line' },
} as const satisfies CliTable<MasterOptions>

/** What commander hands the `tm-master` action. */
export type MasterCliOptions = CliValues<typeof MASTER_CLI>
