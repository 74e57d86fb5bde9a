import { OptionError } from './errors.js'
import { MASK, isSecretName, redactText } from './redact.js'

/** The prefix of a run argument that names an environment variable: `db=env:DATABASE_URL`. */
export const ENV_PREFIX = 'env:'

/** A run's `name=value` arguments, as used and as shown. */
export interface RunArgs {
  /** The values the generator, the throttle check and the slaves (in the welcome, behind the token) get: `env:` resolved. */
  values: Record<string, string>
  /**
   * What is shown (status, page, tm-ctl, logs) and saved (checkpoint), and so what a resume
   * compares: secrets masked (see {@link shownArgs}). A changed password alone is the same run.
   */
  shown: Record<string, string>
  /** The secret values masked in {@link shown}, to hide them in free text (a log line quoting one). */
  secrets: string[]
  /** The arguments given as `name=env:VAR`, by name: the variable each was read from. */
  env: Record<string, string>
}

/**
 * How argument `name` with `value` is shown: masked whole when its name says secret, or
 * when it came from the environment (`fromEnv`: the user put it there to keep it secret)
 * and is not a URL; else with its URL password and secret `name=value` pairs masked.
 * Idempotent, so arguments saved by this or an older version compare alike.
 */
function shownArg(name: string, value: string, fromEnv: boolean, secrets: string[]): string {
  if (value === MASK) return value
  if (isSecretName(name) || (fromEnv && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value))) {
    secrets.push(value)
    return MASK
  }
  return redactText(value, secrets)
}

/** `args` as shown and saved (see {@link RunArgs.shown}); for arguments read back from a checkpoint. */
export function shownArgs(args: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(args).map(([name, value]) => [name, shownArg(name, value, false, [])]))
}

/**
 * Resolves `name=env:VAR` arguments from `env` (in the master's process) and works out what
 * is shown. An unset variable is an {@link OptionError} naming the argument and the variable.
 */
export function resolveRunArgs(args: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = process.env): RunArgs {
  const values: Record<string, string> = {}
  const shown: Record<string, string> = {}
  const secrets: string[] = []
  const variables: Record<string, string> = {}
  for (const [name, given] of Object.entries(args)) {
    if (typeof given !== 'string') throw new OptionError(`options.args.${name} must be a string, got ${typeof given}`, 'args')
    const fromEnv = given.startsWith(ENV_PREFIX)
    const value = fromEnv ? fromEnvironment(name, given, env) : given
    values[name] = value
    shown[name] = shownArg(name, value, fromEnv, secrets)
    if (fromEnv) variables[name] = given.slice(ENV_PREFIX.length)
  }
  return { values, shown, secrets, env: variables }
}

/**
 * A saved run's arguments as `tm-ctl` shows them: masked as {@link shownArgs} masks them (a
 * checkpoint of an older version holds them in clear), and those given as `name=env:VAR`
 * (`env`, by name) as `env:VAR`, which says where the value came from without it.
 */
export function savedArgsShown(args: Readonly<Record<string, string>>, env: Readonly<Record<string, string>> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(shownArgs(args)).map(([name, value]) => [name, Object.hasOwn(env, name) ? redactText(ENV_PREFIX + env[name]) : value]),
  )
}

function fromEnvironment(name: string, given: string, env: NodeJS.ProcessEnv): string {
  const variable = given.slice(ENV_PREFIX.length)
  if (variable === '')
    throw new OptionError(`Run argument '${name}=${given}' names no environment variable (write ${name}=env:NAME)`, 'args')
  const value = env[variable]
  if (value === undefined)
    throw new OptionError(`Run argument '${name}=${given}' names the environment variable ${variable}, which is not set`, 'args')
  return value
}
