// A handler's failure in the failed-jobs log points at the user's own file and line, in
// CommonJS and ESM projects alike, TypeScript or JavaScript, without Taskmaster's frames.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { MASTER_BIN, cleanUp, run, tempDir } from '../helpers/proc.js'

afterEach(cleanUp)

const JOBS = 'export function* getJobs() {\n  for (let id = 0; id < 4; id++) yield { id }\n}\n'
const FLAKY_TS =
  '// Fails the jobs whose id is odd.\nexport function handleJob(job: { id: number }): void {\n  if (job.id % 2 === 1) throw new Error(`odd id ${job.id}`)\n}\n'
const FLAKY_MJS =
  '// Fails the jobs whose id is odd.\nexport function handleJob(job) {\n  if (job.id % 2 === 1) throw new Error(`odd id ${job.id}`)\n}\n'
const FLAKY_CJS =
  '// Fails the jobs whose id is odd.\nexports.handleJob = function handleJob(job) {\n  if (job.id % 2 === 1) throw new Error(`odd id ${job.id}`)\n}\n'

type Case = [project: 'commonjs' | 'module', handler: string, source: string, frame: (path: string) => string]

const cases: Case[] = [
  ['commonjs', 'flaky.ts', FLAKY_TS, (path) => `    at handleJob (${path}:3:31)`],
  ['module', 'flaky.ts', FLAKY_TS, (path) => `    at handleJob (${path}:3:31)`],
  ['commonjs', 'flaky.js', FLAKY_CJS, (path) => `    at handleJob (${path}:3:31)`],
  ['module', 'flaky.js', FLAKY_MJS, (path) => `    at handleJob (${pathToFileURL(path).href}:3:31)`],
]

describe('stack traces in the failed-jobs log', () => {
  it.each(cases)('a "type": "%s" project, handler %s', async (type, handler, source, frame) => {
    const dir = tempDir()
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'project', version: '1.0.0', type }))
    writeFileSync(join(dir, 'jobs.ts'), JOBS)
    writeFileSync(join(dir, handler), source)
    const master = await run(
      MASTER_BIN,
      ['jobs.ts', '--key', 'k', '--host', '127.0.0.1:0', '--spawn', '1', '--handler', handler, '--retries', '0', '--quiet'],
      { cwd: dir },
    )
    expect(master.exit, master.stderr).toEqual({ code: 1, signal: null })
    const entries = readFileSync(join(dir, '.taskmaster/k.failed.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { key: number; error: { message: string; stack: string } })
    expect(entries.map((e) => [e.key, e.error])).toEqual(
      [1, 3].map((id) => [id, { message: `odd id ${id}`, stack: `Error: odd id ${id}\n${frame(join(dir, handler))}` }]),
    )
  })
})
