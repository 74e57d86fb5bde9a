import { Command, InvalidArgumentError, Option } from './commander.js'
import { OptionError } from '../errors.js'
import type { Bounds } from '../bounds.js'
import { numberOfText, outOfBounds, withinBounds } from '../bounds.js'
import type { FlagSpec, OptionSpec } from '../option-specs.js'

/**
 * One command-line option: everything commander, the help, the README's tables and the
 * library mapping need. `L` is the library's options object (MasterOptions, SlaveOptions).
 * An option of the library's is made from its spec ({@link fromSpec}); the rest are the
 * command's own.
 */
export interface CliOption<L> extends FlagSpec {
  /** The range of a number: the parser and the README's range come from it. */
  bounds?: Bounds
  /** Parses and checks the typed text; throws commander's InvalidArgumentError. Absent: from `bounds`, else the text itself. */
  parse?: (value: string) => unknown
  /** Value when the option is not given. */
  default?: unknown
  /**
   * Where the value goes in the library's options: the field of the same meaning (copied
   * when not undefined), or a function for a composite one (--host → host and port).
   * Absent: the option is the CLI's own (the command reads it).
   */
  to?: keyof L | ((value: never, into: Partial<L>) => void)
  /** Passed on as it was given to the local slaves of `tm-master --spawn` (a tm-slave flag of the same name). */
  spawn?: true
}

/** A command's table: option attribute name (commander's camelCase of the long flag) → option. */
export type CliTable<L> = Record<string, CliOption<L>>

/** A flag's default as commander takes it: numbers and words; a boolean flag is false by not being given. */
type CliDefault<D> = [D] extends [number | string] ? { default: D } : { default?: undefined }

/**
 * The flag of a library option, made from its spec: its flags, help, environment variable,
 * default and range, mapped to the field `name`.
 */
export function fromSpec<K extends string, T>(name: K, spec: OptionSpec<T>): FlagSpec & { bounds?: Bounds; to: K } & CliDefault<T> {
  if (spec.flag === undefined) throw new Error(`Option '${name}' has no flag`)
  const value = typeof spec.default === 'number' || typeof spec.default === 'string' ? { default: spec.default } : {}
  return { ...spec.flag, ...(spec.bounds === undefined ? {} : { bounds: spec.bounds }), ...value, to: name } as unknown as FlagSpec & {
    bounds?: Bounds
    to: K
  } & CliDefault<T>
}

/**
 * A tm-slave option as `tm-master --spawn` takes it for its local slaves: the slave's flags,
 * range and default (shown, not given: the slave fills it in), `help` (and `shown`) in the master's words.
 */
export function forSpawn<K extends string, T>(
  name: K,
  spec: OptionSpec<T>,
  help: string,
  shown = String(spec.default),
): FlagSpec & { bounds?: Bounds; spawn: true } {
  const flag = fromSpec(name, spec)
  return { flags: flag.flags, help, shown, ...(flag.bounds === undefined ? {} : { bounds: flag.bounds }), spawn: true }
}

type Parsed<E, L> = E extends { to: infer K extends keyof L }
  ? NonNullable<L[K]>
  : E extends { parse: (value: string) => infer V }
    ? V
    : E extends { bounds: Bounds }
      ? number
      : E extends { flags: `${string}<${string}>${string}` }
        ? string
        : boolean

/** The values commander gives the action, typed from the table (and the library's fields): an option with a default is always there. */
export type CliValues<T, L> = {
  -readonly [K in keyof T]: T[K] extends { default: number | string | object } ? Parsed<T[K], L> : Parsed<T[K], L> | undefined
}

/**
 * Commander parser of a number within `bounds`; with `off`, the word `off` too, as null.
 * The message is the library's (`must be an integer from 1 to 10`), after commander's
 * `option '--size <n>' argument '0' is invalid.`: the flag as the user wrote it.
 */
export function bounded(bounds: Bounds): (value: string) => number
export function bounded(bounds: Bounds, off: 'off'): (value: string) => number | null
export function bounded(bounds: Bounds, off?: 'off'): (value: string) => number | null {
  return (value) => {
    if (off !== undefined && value === off) return null
    const n = numberOfText(value)
    if (!withinBounds(bounds, n)) throw new InvalidArgumentError(outOfBounds(bounds, `'${value}'`, off === undefined ? '' : ` or ${off}`))
    return n
  }
}

/** The default of an entry as `--help` and the README show it: `shown`, else the default itself. */
export function shownDefault(entry: FlagSpec & { default?: unknown }): string | undefined {
  // A default that is not a number or a word (--host's parts) has its `shown`.
  return entry.shown ?? (entry.default === undefined ? undefined : `${entry.default as string | number}`)
}

/** Adds every option of `table` to `command`, defaults shown as a user types them. */
export function addOptions<L>(command: Command, table: CliTable<L>): Command {
  for (const [name, entry] of Object.entries(table)) {
    const hasDefault = entry.default !== undefined
    // Commander shows a default only when there is a value; an option whose default is a
    // rule ("its concurrency") says it in its help text, in the same words.
    const help = !hasDefault && entry.shown !== undefined ? `${entry.help} (default: ${entry.shown})` : entry.help
    const option = new Option(entry.flags, help)
    if (option.attributeName() !== name)
      throw new Error(`Option table key '${name}' does not match ${entry.flags} ('${option.attributeName()}')`)
    const parse = entry.parse ?? (entry.bounds === undefined ? undefined : bounded(entry.bounds))
    if (parse !== undefined) option.argParser(parse)
    if (hasDefault) option.default(entry.default, shownDefault(entry))
    if (entry.env !== undefined) option.env(entry.env)
    command.addOption(option)
  }
  return command
}

/** The library's options of the table's options that map to it (`to`), undefined values left out. */
export function libraryOptions<L>(table: CliTable<L>, values: Record<string, unknown>): Partial<L> {
  const into: Partial<L> = {}
  for (const [name, entry] of Object.entries(table)) {
    const value = values[name]
    // The table's types tie each mapping to its parser's value (MASTER_CLI satisfies CliTable).
    if (typeof entry.to === 'function') entry.to(value as never, into)
    else if (entry.to !== undefined && value !== undefined) into[entry.to] = value as L[keyof L]
  }
  return into
}

/** The long flag of an entry: `--max-frame` of `--max-frame <bytes>`. */
export function longFlag(entry: FlagSpec): string {
  return new Option(entry.flags).long ?? entry.flags
}

/** The tm-slave arguments that pass the `spawn` options given to the command on to its local slaves. */
export function spawnArgs<L>(table: CliTable<L>, values: Record<string, unknown>): string[] {
  // The options passed on are numbers and words (a unit test reads them back through tm-slave's table).
  return Object.entries(table).flatMap(([name, entry]) =>
    entry.spawn === true && values[name] !== undefined ? [longFlag(entry), String(values[name] as string | number)] : [],
  )
}

/**
 * A library error about an option given by its flag, naming the flag as the user wrote it
 * (`--state-store must be a postgres:// URL`, not `options.stateStore ...`); any other error as it is.
 */
export function asFlagError<L>(table: CliTable<L>, error: unknown): unknown {
  if (!(error instanceof OptionError) || error.option === undefined) return error
  // Only a check of the option alone (`options.x must ...`): a message about two options names both already.
  const field = `options.${error.option} must `
  const entry = Object.values(table).find((e) => e.to === error.option)
  if (entry === undefined || !error.message.startsWith(field)) return error
  return new OptionError(`${longFlag(entry)} must ${error.message.slice(field.length)}`, error.option)
}
