import { rangeWords } from '../bounds.js'
import { MASTER_CLI } from './master-options.js'
import type { CliTable } from './option-table.js'
import { shownDefault } from './option-table.js'
import { SLAVE_CLI } from './slave-options.js'

/** The commands whose option tables the README holds, each between its two markers. */
const TABLES: Record<string, CliTable<never>> = { 'tm-master': MASTER_CLI, 'tm-slave': SLAVE_CLI }

/** Text as a Markdown table cell shows it: `|` would end the cell, `<x>` would be taken for HTML. */
const cell = (text: string): string => text.replace(/[|<]/g, '\\$&')

/** One row of an option: its flags (and variable), default, then what it does and what it takes. */
function row(entry: CliTable<never>[string]): string {
  const option = `\`${entry.flags.replace(/\|/g, '\\|')}\`${entry.env === undefined ? '' : ` / \`${entry.env}\``}`
  const shown = shownDefault(entry)
  const value = shown === undefined ? '' : entry.default === undefined ? cell(shown) : `\`${shown}\``
  const meaning = [entry.help, entry.bounds === undefined ? undefined : rangeWords(entry.bounds), entry.docs]
    .filter((part) => part !== undefined)
    .map(cell)
    .join('; ')
  return `| ${option} | ${value} | ${meaning} |`
}

/** The Markdown table of a command's options, in help order, from its table (and so from the specs). */
export function optionsMarkdown(table: CliTable<never>): string {
  return ['| option | default | meaning |', '|---|---|---|', ...Object.values(table).map(row)].join('\n')
}

const begin = (command: string): string =>
  `<!-- options of ${command}: made by npm run docs:options from src/option-specs.ts and src/cli/*-options.ts -->`
const END = '<!-- end of options -->'

/**
 * `readme` with each command's option table made again from the specs (between its markers),
 * so the README cannot say other than `--help` and the checks; throws if a marker is missing.
 */
export function readmeWithOptions(readme: string): string {
  let text = readme
  for (const [command, table] of Object.entries(TABLES)) {
    const start = text.indexOf(begin(command))
    const end = text.indexOf(END, start)
    if (start < 0 || end < 0) throw new Error(`README.md has no options table of ${command} between '${begin(command)}' and '${END}'`)
    text = `${text.slice(0, start)}${begin(command)}\n${optionsMarkdown(table)}\n${text.slice(end)}`
  }
  return text
}
