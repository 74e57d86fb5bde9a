import type { Bounds } from './bounds.js'
import { POSITIVE_SECONDS, SECONDS, integers, outOfBounds, withinBounds } from './bounds.js'
import { OptionError } from './errors.js'
import { MIN_FRAME } from './protocol/messages.js'
import { checkShard } from './shard.js'

/**
 * How an option is written on the command line, when it is a flag of the same meaning and
 * default as the library's field: commander's option, `--help` and the README's tables come
 * from it (src/cli/option-table.ts, src/cli/option-docs.ts).
 */
export interface FlagSpec {
  /** Commander flags, e.g. `-s, --size <n>`; a flag without `<value>` is a boolean. */
  flags: string
  /** Help text, without the default or the range (both are added from the spec). */
  help: string
  /** Environment variable read when the flag is not given. */
  env?: string
  /** The default as a user says it (`adaptive`, `no limit`); else the default itself. */
  shown?: string
  /** More for the README only (a link, a detail too long for `--help`). */
  docs?: string
}

/**
 * One option: its default, its range (`bounds`, for a number) or `check` (anything else),
 * both run where the value is applied and naming the option as its user wrote it, and its
 * flag. A check sees only values that are not undefined.
 */
export interface OptionSpec<T> {
  default: T
  bounds?: Bounds
  check?: (value: NonNullable<T>, name: string) => void
  flag?: FlagSpec
}

/** Any {@link OptionSpec} (a check takes `never`, so a check of any value type fits). */
export type AnySpec = { default: unknown; bounds?: Bounds; check?: (value: never, name: string) => void; flag?: FlagSpec }

/** Throws an {@link OptionError} naming `options.<name>` unless `value` is what `spec` takes. */
export function checkOption(spec: AnySpec, value: unknown, name: string): void {
  if (spec.bounds !== undefined && !withinBounds(spec.bounds, value))
    throw new OptionError(`options.${name} ${outOfBounds(spec.bounds, String(value))}`, name)
  spec.check?.(value as never, name)
}

/**
 * Throws an {@link OptionError} for the first name of `options` (with a value) that is not in
 * `known`: a mistyped option would else be ignored and its default used. It suggests the
 * known name closest to it. `prefix` is how the user reaches `options` (`options`,
 * `options.slave`), `owner` what takes them (`Master`).
 */
export function checkKnownOptions(options: unknown, known: readonly string[], owner: string, prefix = 'options'): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new OptionError(
      `${prefix} must be an object of ${owner} options, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    )
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || known.includes(name)) continue
    const near = closest(name, known)
    throw new OptionError(`${prefix}.${name} is not an option of ${owner}${near === undefined ? '' : `; did you mean ${near}?`}`, name)
  }
}

/** The name of `known` nearest to `name` (case aside), if it is near enough to be a typo of it. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance]
  }
  return best
}

/** Levenshtein distance, a transposition counting as one edit. */
function editDistance(a: string, b: string): number {
  let before: number[] = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], before[j - 2] + 1)
    }
    ;[before, previous] = [previous, row]
  }
  return previous[b.length]
}

/** Throws an {@link OptionError} naming `what` unless `value` is true or false (`'false'` is a string, and truthy). */
export function checkBoolean(value: unknown, what: string, option: string): void {
  if (typeof value !== 'boolean')
    throw new OptionError(`${what} must be true or false, got ${typeof value === 'string' ? `'${value}'` : typeof value}`, option)
}

const booleanOption = (value: unknown, name: string): void => checkBoolean(value, `options.${name}`, name)

function throttleCheck(value: unknown, name: string): void {
  if (
    typeof value !== 'function' &&
    (typeof value !== 'object' || value === null || !('check' in value) || typeof value.check !== 'function')
  )
    throw new OptionError(`options.${name} must be a function ({ args, signal }) => false | true | reason`, name)
}

/**
 * A token travels in an `Authorization: Bearer` header and a `?token=` query: visible ASCII
 * only, or tm-ctl and browsers could never send it (a space, a newline, `é`).
 */
function tokenText(value: string, name: string): void {
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,1024}$/.test(value))
    throw new OptionError(`options.${name} must be 1 to 1024 visible ASCII characters (no spaces): it travels in an HTTP header`, name)
}

function postgresUrl(value: string, name: string): void {
  if (typeof value !== 'string' || !/^postgres(ql)?:\/\//.test(value))
    throw new OptionError(`options.${name} must be a postgres:// URL, got '${String(value)}'`, name)
  // Not quoted: an unparsable URL cannot be told apart from its password.
  if (!URL.canParse(value))
    throw new OptionError(
      `options.${name} must be a URL that can be read: postgres://<user>:<password>@<host>:<port>/<database>, the port at most 65535, special characters of the password %-encoded`,
      name,
    )
}

/** True when `key` can be a run key: it becomes a file name, so it keeps to a safe alphabet. */
export const isRunKey = (key: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(key)

/** The run key becomes a file name: keep it to a safe alphabet. */
export function validateRunKey(key: string): void {
  if (!isRunKey(key)) {
    throw new OptionError(
      `The run key (--key, options.key) must be 1-128 characters of letters, digits, '.', '_' or '-' (starting with a letter or digit), got '${key}'`,
      'key',
    )
  }
}

/**
 * Largest frame either side takes: 1 GiB; ws keeps its payload limit in a 32-bit signed
 * integer. (The least is the protocol's MIN_FRAME.)
 */
const FRAME = integers(MIN_FRAME, 2 ** 30)
const DEFAULT_FRAME = 16 * 1024 * 1024

/**
 * Every MasterOptions field but `source` (src/options.ts checks that the table has them all,
 * each of the field's type), in the order checks run (the first bad option
 * is named). The bounds say why in their comments: a bound is where memory, a timer or the
 * wire gives out, not a taste.
 */
export const MASTER_OPTIONS = {
  key: { default: 'run', check: validateRunKey },
  args: { default: {} },
  stateDir: { default: './.taskmaster', flag: { flags: '--state-dir <dir>', help: 'where run state is kept' } },
  reset: { default: false, check: booleanOption },
  acceptJournalLoss: {
    default: false,
    check: booleanOption,
    flag: {
      flags: '--accept-journal-loss',
      help: 'resume even if the journal is damaged: it is cut at the first bad record, and the jobs it recorded from there on run again',
    },
  },
  host: { default: '127.0.0.1' },
  port: { default: 5050, bounds: integers(0, 65535) },
  // The ledger holds a window of 8 × size jobs in typed arrays (about 30 bytes a job before
  // the jobs themselves): a million is some 250 MB; far beyond, allocation fails.
  size: {
    default: 10000,
    bounds: integers(1, 1_000_000),
    flag: { flags: '-s, --size <n>', help: 'buffer cap: the generator is pulled only while fewer jobs are queued' },
  },
  // A frame never holds more jobs than the buffer can.
  batchSize: {
    default: 1000,
    bounds: integers(1, 1_000_000),
    flag: {
      flags: '--batch-size <n>',
      help: 'most jobs per frame to a slave',
      docs: 'a smaller frame waits while its slave has a full batch queued beyond its running jobs (fast handlers get bigger frames from their adaptive window)',
    },
  },
  checkpointInterval: { default: 1, bounds: POSITIVE_SECONDS },
  // Under 0.1 s a busy machine misses pings and healthy slaves are dropped, charging their jobs.
  heartbeat: {
    default: 5,
    bounds: { ...SECONDS, min: 0.1 },
    flag: { flags: '--heartbeat <seconds>', help: 'seconds between pings; a slave that answers none is dropped within two' },
  },
  maxFrame: {
    default: DEFAULT_FRAME,
    bounds: FRAME,
    flag: {
      flags: '--max-frame <bytes>',
      help: 'largest frame accepted or sent',
      docs: "each slave's frames are sized to the smaller of its limit and this",
    },
  },
  maxSlaves: {
    default: 10_000,
    bounds: integers(1),
    flag: { flags: '--max-slaves <n>', help: 'most slaves at once; a slave beyond is refused and tries again later' },
  },
  token: {
    default: undefined,
    check: tokenText,
    flag: {
      flags: '--token <secret>',
      help: 'token slaves must present; generated and printed when listening beyond loopback',
      env: 'TM_TOKEN',
    },
  },
  // The ledger counts a job's attempts in a byte (Uint8Array): 250 retries keep it under 255.
  retries: {
    default: 3,
    bounds: integers(0, 250),
    flag: { flags: '--retries <n>', help: 'retries of a job whose handler throws, before the failed-jobs log' },
  },
  retryDelay: {
    default: 1,
    bounds: SECONDS,
    flag: { flags: '--retry-delay <seconds>', help: 'delay before the first retry, doubling for each next one (at most 60 s)' },
  },
  jobTimeout: {
    default: 0,
    bounds: SECONDS,
    flag: {
      flags: '--job-timeout <seconds>',
      help: 'take back a job in flight this long as a failed attempt (0: no limit)',
      docs: 'with `handleBatch`: a call running longer is split down to the row that hangs it',
    },
  },
  tls: { default: undefined },
  failedLog: { default: undefined },
  shard: {
    default: undefined,
    check: checkShard,
    flag: {
      flags: '--shard <i/n>',
      help: 'run shard i of n masters sharing the dataset: the key gets .shard-<i>-of-<n>, the generator gets ctx.shard',
      docs: '[docs/scale.md](docs/scale.md)',
    },
  },
  stateStore: {
    default: undefined,
    check: postgresUrl,
    flag: {
      flags: '--state-store <url>',
      help: 'keep the run state in this PostgreSQL (postgres://...) instead of --state-dir; needs the pg package',
      env: 'TM_STATE_STORE',
    },
  },
  standby: {
    default: false,
    check: booleanOption,
    flag: {
      flags: '--standby',
      help: "with --state-store: wait for the run held by another master and take it over when that master's lease lapses (it ends, or renews nothing for 4 heartbeats)",
      docs: '[docs/operating.md](docs/operating.md#a-standby-master-and-its-lease)',
    },
  },
  // At least a job every 1,000 s: slower, the wait for a token outgrows what anyone means (and,
  // far below, what a timer takes); at most ten times what one master has been measured to send.
  rate: {
    default: undefined,
    bounds: { min: 0.001, max: 10_000_000, integer: false, what: 'a number of jobs per second' },
    flag: {
      flags: '--rate <jobs/s>',
      help: 'most jobs per second sent to the whole fleet (a token bucket, 250 ms of burst); change it live with tm-ctl rate',
      shown: 'no limit',
      docs: 'see [Running against production](#running-against-production)',
    },
  },
  maxInFlight: {
    default: undefined,
    bounds: integers(1, 100_000_000, 'a whole number of jobs'),
    flag: {
      flags: '--max-in-flight <n>',
      help: 'most jobs in flight over the whole fleet; change it live with tm-ctl max-in-flight',
      shown: 'no limit',
    },
  },
  paused: {
    default: false,
    check: booleanOption,
    flag: {
      flags: '--paused',
      help: 'start paused: no job goes out until tm-ctl resume (a run paused when its master stopped starts paused anyway)',
    },
  },
  throttle: { default: undefined, check: throttleCheck },
  throttleInterval: {
    default: 1,
    bounds: POSITIVE_SECONDS,
    flag: {
      flags: '--throttle-interval <seconds>',
      help: 'seconds between throttle checks, and how long one may take before it holds dispatch',
    },
  },
} satisfies Record<string, AnySpec>

/**
 * Every SlaveOptions field but `handler`, `batchHandler` and `host` (see
 * MASTER_OPTIONS). `prefetch` has no default: without it the window is adaptive.
 */
export const SLAVE_OPTIONS = {
  // A slave's lanes: each holds a handler call's state.
  concurrency: {
    default: 1,
    bounds: integers(1, 100_000),
    flag: { flags: '-c, --concurrency <n>', help: 'jobs run at once in each slave process' },
  },
  // Jobs per `handleBatch` call, and milliseconds waited to fill one.
  batch: {
    default: 100,
    bounds: integers(1, 100_000),
    flag: { flags: '--batch <n>', help: 'with a handleBatch handler: most jobs per call' },
  },
  linger: {
    default: 10,
    bounds: integers(0, 60_000),
    flag: { flags: '--linger <ms>', help: 'with handleBatch: milliseconds to wait for a batch to fill before running a smaller one' },
  },
  setup: { default: undefined },
  teardown: { default: undefined },
  setupTimeout: {
    default: 60,
    bounds: POSITIVE_SECONDS,
    flag: { flags: '--setup-timeout <seconds>', help: "how long the handler module's setup and teardown may each take" },
  },
  module: { default: undefined },
  // A slave's credit: as many jobs as a buffer holds.
  prefetch: {
    default: undefined,
    bounds: integers(0, 1_000_000),
    flag: {
      flags: '--prefetch <n>',
      help: 'a fixed window: jobs held beyond those running, always',
      shown: 'adaptive, from the job rate and round trip',
      docs: 'without it the slave holds enough jobs for the round trip plus 40 ms of work (see docs/performance.md), so fast handlers get full frames and slow ones hold few jobs',
    },
  },
  reconnect: {
    default: 60,
    bounds: SECONDS,
    flag: {
      flags: '--reconnect <seconds>',
      help: 'keep trying to reach the master this long before giving up; 0: forever, and serve run after run (exit 0 on SIGTERM)',
    },
  },
  maxFrame: { default: DEFAULT_FRAME, bounds: FRAME, flag: { flags: '--max-frame <bytes>', help: 'largest frame accepted' } },
  token: {
    default: undefined,
    check: tokenText,
    flag: { flags: '--token <secret>', help: "the run's token, if the master needs one", env: 'TM_TOKEN' },
  },
  ca: { default: undefined },
} satisfies Record<string, AnySpec>
