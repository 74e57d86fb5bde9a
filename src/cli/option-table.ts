import { Command, Option } from 'commander'

/**
 * One command-line option: everything commander, the help and the library mapping need.
 * `L` is the library's options object (MasterOptions, SlaveOptions).
 */
export interface CliOption<L> {
  /** Commander flags, e.g. `-s, --size <n>`; a flag without `<value>` is a boolean. */
  flags: string
  /** Help text, without the default (added from `default` or `shown`). */
  help: string
  /** Parses and checks the typed text; throws commander's InvalidArgumentError. Absent: the text itself. */
  parse?: (value: string) => unknown
  /** Value when the option is not given. */
  default?: unknown
  /** The default as a user types it (or says it) in `--help`; else `String(default)`. */
  shown?: string
  /** Environment variable read when the option is not given. */
  env?: string
  /**
   * Where the value goes in the library's options: the field of the same meaning (copied
   * when not undefined), or a function for a composite one (--host → host and port).
   * Absent: the option is the CLI's own (the command reads it).
   */
  to?: keyof L | ((value: never, into: Partial<L>) => void)
}

/** A command's table: option attribute name (commander's camelCase of the long flag) → option. */
export type CliTable<L> = Record<string, CliOption<L>>

type Parsed<E> = E extends { parse: (value: string) => infer V } ? V : E extends { flags: `${string}<${string}>${string}` } ? string : boolean

/** The values commander gives the action, typed from the table: an option with a default is always there. */
export type CliValues<T> = { -readonly [K in keyof T]: T[K] extends { default: unknown } ? Parsed<T[K]> : Parsed<T[K]> | undefined }

/** Adds every option of `table` to `command`, defaults shown as a user types them. */
export function addOptions<L>(command: Command, table: CliTable<L>): Command {
  for (const [name, entry] of Object.entries(table)) {
    const hasDefault = entry.default !== undefined
    // Commander shows a default only when there is a value; an option whose default is a
    // rule ("its concurrency") says it in its help text, in the same words.
    const help = !hasDefault && entry.shown !== undefined ? `${entry.help} (default: ${entry.shown})` : entry.help
    const option = new Option(entry.flags, help)
    if (option.attributeName() !== name) throw new Error(`Option table key '${name}' does not match ${entry.flags} ('${option.attributeName()}')`)
    if (entry.parse !== undefined) option.argParser(entry.parse)
    if (hasDefault) option.default(entry.default, entry.shown ?? String(entry.default))
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
