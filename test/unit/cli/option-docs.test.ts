import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MASTER_CLI } from '../../../src/cli/master-options.js'
import { optionsMarkdown, readmeWithOptions } from '../../../src/cli/option-docs.js'
import { SLAVE_CLI } from '../../../src/cli/slave-options.js'
import { ROOT } from '../../helpers/proc.js'

describe("the README's option tables", () => {
  it('are those the specs make (npm run docs:options makes them again)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    expect(readme).toBe(readmeWithOptions(readme))
  })

  it('hold every option of each command, with its default and range', () => {
    const master = optionsMarkdown(MASTER_CLI).split('\n')
    const slave = optionsMarkdown(SLAVE_CLI).split('\n')
    expect(master).toHaveLength(Object.keys(MASTER_CLI).length + 2)
    expect(slave).toHaveLength(Object.keys(SLAVE_CLI).length + 2)
    expect(master).toContain(
      '| `--retries <n>` | `3` | retries of a job whose handler throws, before the failed-jobs log; an integer from 0 to 250 |',
    )
    expect(master).toContain(
      '| `--token <secret>` / `TM_TOKEN` |  | token slaves must present; generated and printed when listening beyond loopback |',
    )
    expect(master).toContain(
      '| `--rate <jobs/s>` | no limit | most jobs per second sent to the whole fleet (a token bucket, 250 ms of burst); change it live with tm-ctl rate; a number of jobs per second from 0.001 to 10000000; see [Running against production](#running-against-production) |',
    )
    expect(slave).toContain(
      '| `--prefetch <n>` | adaptive, from the job rate and round trip | a fixed window: jobs held beyond those running, always; an integer from 0 to 1000000; without it the slave holds enough jobs for the round trip plus 40 ms of work (see docs/performance.md), so fast handlers get full frames and slow ones hold few jobs |',
    )
  })
})
