// Job data is delivered as the generator yielded it, even keys that are special in
// JavaScript: an own `__proto__` key reaches the handler as that key, and nothing
// pollutes the slave's Object.prototype.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, MASTER_BIN, fixture, masterArgs, run, sandbox, spawnArgs } from '../helpers/proc.js'
import { tearDown } from '../helpers/reliability.js'

afterEach(tearDown)

const PROTO = fixture('proto-keys.mjs')

describe('a job with an own __proto__ key', () => {
  it('reaches the handler with that key intact, and Object.prototype untouched', async () => {
    const box = sandbox()
    const master = await run(
      MASTER_BIN,
      [`${PROTO}:getJobs`, ...masterArgs(box, 'proto'), ...spawnArgs(1, `${PROTO}:handleJob`), '--quiet'],
      { env: box.env },
    )
    expect(master.exit, master.stderr).toEqual(EXIT_OK)
    const lines = readdirSync(box.records)
      .filter((file) => file.startsWith('proto-'))
      .flatMap((file) => readFileSync(join(box.records, file), 'utf8').split('\n'))
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { job: string })
      .sort((a, b) => a.job.localeCompare(b.job))
    const seen = (job: string, ownProto: boolean) => ({ job, ownProto, plain: true, polluted: false })
    expect(lines).toEqual([
      seen('{"id":1,"__proto__":"x"}', true),
      seen('{"id":2,"__proto__":{"polluted":true}}', true),
      seen('{"id":3,"__proto_":"y"}', false),
      seen(`{"id":4,"__proto__":"z","__proto_":"w","s":"${'a'.repeat(70)}"}`, true),
      seen('{"id":5,"nested":{"__proto__":{"polluted":true}}}', false),
    ])
  })
})
