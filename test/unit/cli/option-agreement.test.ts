// The flags and the library options they map to accept exactly the same values: a value the
// flag takes is never refused later as options.<field>, and the other way round.
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { MASTER_CLI } from '../../../src/cli/master-options.js'
import { addOptions, libraryOptions } from '../../../src/cli/option-table.js'
import type { CliTable } from '../../../src/cli/option-table.js'
import { SLAVE_CLI } from '../../../src/cli/slave-options.js'
import { resolveMasterOptions, resolveSlaveOptions } from '../../../src/options.js'

/** Texts around every bound the options have (0, 1, 250, a week of seconds, 2^30, ...). */
const PROBES = [
  '-1',
  '0',
  '0.0005',
  '0.001',
  '0.5',
  '1',
  '1.5',
  '250',
  '251',
  '1023',
  '1024',
  '60000',
  '60001',
  '100000',
  '100001',
  '604800',
  '604801',
  '1000000',
  '1000001',
  '10000000',
  '10000001',
  '100000000',
  '100000001',
  '1073741824',
  '1073741825',
]

/** True when `resolve` returns: the library takes the options. */
function accepts(resolve: () => unknown): boolean {
  try {
    resolve()
    return true
  } catch {
    return false
  }
}

function agreement<L>(table: CliTable<L>, resolve: (options: Partial<L>) => unknown): string[] {
  const disagreements: string[] = []
  for (const [name, entry] of Object.entries(table)) {
    if (typeof entry.to !== 'string' || !/<(n|seconds|bytes|ms|jobs\/s)>/.test(entry.flags)) continue
    for (const text of PROBES) {
      let parsed: Record<string, unknown> | undefined
      try {
        parsed = addOptions(new Command().exitOverride().configureOutput({ writeErr: () => {} }), table)
          .parse([`--${entry.flags.split('--')[1].split(' ')[0]}`, text], { from: 'user' })
          .opts()
      } catch {
        parsed = undefined
      }
      const library = accepts(() => resolve({ [entry.to as string]: Number(text) } as Partial<L>))
      // A flag that takes the text hands the library what it parsed: the library must take that too.
      const cli = parsed !== undefined && accepts(() => resolve(libraryOptions(table, parsed)))
      if (cli !== library)
        disagreements.push(
          `${name} ${text}: the flag ${parsed === undefined ? 'refuses' : 'takes'} it, the library ${library ? 'takes' : 'refuses'} it`,
        )
    }
  }
  return disagreements
}

describe('a flag and its library option agree on every value', () => {
  it('tm-master', () => {
    const source = { getJobs: function* () {} }
    expect(agreement(MASTER_CLI, (o) => resolveMasterOptions({ source, ...o }))).toEqual([])
  })

  it('tm-slave', () => {
    const handler = (): void => {}
    expect(agreement(SLAVE_CLI, (o) => resolveSlaveOptions({ handler, host: 'h:1', ...o }))).toEqual([])
  })
})
