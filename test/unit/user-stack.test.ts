import { describe, expect, it } from 'vitest'
import { MAX_USER_FRAMES, userStack } from '../../src/user-stack.js'

const OWN = ['/app/node_modules/taskmaster-run/dist/', 'file:///app/node_modules/taskmaster-run/dist/']
const DATA_URL = `data:text/javascript,__filename%3D%22%2Fapp%2Fflaky.ts%22%3B${'%3Bvar%20x'.repeat(200)}?filePath=%2Fapp%2Fflaky.ts:2:949`

describe('userStack', () => {
  it("keeps the message and the user's frames, drops Taskmaster's runner and Node.js internals", () => {
    const stack = [
      'Error: odd id 1',
      '    at handleJob (/app/flaky.ts:3:31)',
      '    at #lane (file:///app/node_modules/taskmaster-run/dist/slave/runner.js:139:32)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    ].join('\n')
    expect(userStack(stack, OWN)).toBe('Error: odd id 1\n    at handleJob (/app/flaky.ts:3:31)')
  })

  it('keeps the libraries the handler called, in order, and a multi-line message whole', () => {
    const stack = [
      'QueryError: relation "posts" does not exist',
      'query: SELECT 1',
      '    at Parser.parse (/app/node_modules/pg/lib/parser.js:10:5)',
      '    at async handleJob (file:///app/handler.mjs:7:3)',
      '    at async Promise.all (index 0)',
      '    at async #lane (/app/node_modules/taskmaster-run/dist/slave/runner.js:139:32)',
    ].join('\n')
    expect(userStack(stack, OWN)).toBe(
      [
        'QueryError: relation "posts" does not exist',
        'query: SELECT 1',
        '    at Parser.parse (/app/node_modules/pg/lib/parser.js:10:5)',
        '    at async handleJob (file:///app/handler.mjs:7:3)',
        '    at async Promise.all (index 0)',
      ].join('\n'),
    )
  })

  it('drops frames of code loaded from a data: URL', () => {
    const stack = `Error: odd id 1\n    at handleJob (${DATA_URL})\n    at helper (/app/util.ts:5:9)`
    expect(userStack(stack, OWN)).toBe('Error: odd id 1\n    at helper (/app/util.ts:5:9)')
  })

  it(`keeps at most ${MAX_USER_FRAMES} frames`, () => {
    const frames = Array.from({ length: 30 }, (_, i) => `    at f${i} (/app/deep.ts:${i + 1}:1)`)
    expect(userStack(['RangeError: too deep', ...frames].join('\n'), OWN)).toBe(
      ['RangeError: too deep', ...frames.slice(0, MAX_USER_FRAMES)].join('\n'),
    )
  })

  it("keeps the first few frames when none is the user's", () => {
    const stack = [
      'Error: ENOENT: no such file or directory',
      `    at handleJob (${DATA_URL})`,
      '    at Object.openSync (node:fs:573:18)',
      '    at node:internal/a:1:1',
      '    at node:internal/b:1:1',
      '    at #lane (/app/node_modules/taskmaster-run/dist/slave/runner.js:139:32)',
    ].join('\n')
    expect(userStack(stack, OWN)).toBe(
      [
        'Error: ENOENT: no such file or directory',
        '    at Object.openSync (node:fs:573:18)',
        '    at node:internal/a:1:1',
        '    at node:internal/b:1:1',
      ].join('\n'),
    )
  })

  it('leaves a stack without frames as it is', () => {
    expect(userStack('Error: thrown from nowhere', OWN)).toBe('Error: thrown from nowhere')
    expect(userStack('', OWN)).toBe('')
  })

  it("counts this package's own dist/ and src/ as Taskmaster's by default, not its other folders", () => {
    const root = new URL('../..', import.meta.url).pathname
    const stack = [
      'Error: x',
      `    at handleJob (${root}test/fixtures/flaky.mjs:1:1)`,
      `    at #lane (${root}dist/slave/runner.js:1:1)`,
      `    at #lane (file://${root}src/slave/runner.ts:1:1)`,
    ].join('\n')
    expect(userStack(stack)).toBe(`Error: x\n    at handleJob (${root}test/fixtures/flaky.mjs:1:1)`)
  })
})
