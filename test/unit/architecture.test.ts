import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as constants from '../../src/protocol/constants.js'
import { AUTH_ERROR_CODE, CLOSE_REASON } from '../../src/protocol/constants.js'
import { ROOT } from '../helpers/proc.js'

// The wire contract is spelled in src/protocol/ only: neither side writes a close code,
// a close reason, the auth error code or a heartbeat factor of its own. (The import rules
// between folders are dependency-cruiser's, in `npm run lint`.)

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : []
  })
}

const SRC = join(ROOT, 'src')
const outsideProtocol = sourceFiles(SRC).filter((path) => !relative(SRC, path).startsWith('protocol/'))

/** Lines of the files outside src/protocol/ that match `pattern`, as `file:line: text`. */
function offending(pattern: RegExp): string[] {
  return outsideProtocol.flatMap((path) =>
    readFileSync(path, 'utf8')
      .split('\n')
      .map((text, i) => ({ text, i }))
      .filter(({ text }) => pattern.test(text))
      .map(({ text, i }) => `${relative(ROOT, path)}:${i + 1}: ${text.trim()}`),
  )
}

const quoted = (value: string): RegExp => new RegExp(`['"\`]${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"\`]`)

describe('the wire contract lives in src/protocol/', () => {
  it('has every file to check', () => {
    expect(outsideProtocol.map((path) => relative(SRC, path))).toEqual(
      expect.arrayContaining(['master/engine/run.ts', 'master/engine/server.ts', 'slave/slave.ts', 'errors.ts']),
    )
  })

  it.each(Object.entries(CLOSE_REASON))('no side spells the close reason %s (%j)', (_name, reason) => {
    expect(offending(quoted(reason))).toEqual([])
  })

  it('no side spells the auth error code', () => {
    expect(offending(quoted(AUTH_ERROR_CODE)).filter((line) => !line.startsWith('src/errors.ts'))).toEqual([])
  })

  it('no side closes a connection with a close code of its own', () => {
    expect(offending(/\.close\(\s*\d/)).toEqual([])
    expect(offending(/closeCode\s*=\s*\d/)).toEqual([])
  })

  it('no side has a heartbeat factor or hello timeout of its own', () => {
    expect(offending(/\*\s*2\.5\b|\b2500\b|heartbeat\s*\*\s*2\b|HELLO_TIMEOUT\s*=/)).toEqual([])
  })

  it('no side times its connections with a delay of its own', () => {
    // A delay given where a connection is cut, opened or checked must be a name of src/protocol/constants.ts.
    const named = new Set(Object.keys(constants))
    const delays = offending(/terminate\(\),\s*[^)]+\)|handshakeTimeout:|HELLO_TIMEOUT_S\s*[-+]/).filter((line) => {
      const delay = /terminate\(\),\s*([\w.]+)\s*\)|handshakeTimeout:\s*([\w.]+)/.exec(line)
      return delay === null || !named.has(delay[1] ?? delay[2])
    })
    expect(delays).toEqual([])
    // The files that hold the connections keep no timing constant of their own.
    const connections = ['master/server.ts', 'master/session.ts', 'slave/connection.ts', 'slave/slave.ts'].map((path) => join(SRC, path))
    const own = offending(/const\s+\w*(TIMEOUT|GRACE|PERIOD|DEADLINE|INTERVAL|DELAY)\w*\s*=\s*\d/).filter((line) =>
      connections.some((path) => line.startsWith(relative(ROOT, path) + ':')),
    )
    expect(own).toEqual([])
  })
})

// docs/architecture.md's table of every file under src/ is the reader's map of the house:
// a file added without a row, or a row left behind by a file removed, fails here.

/**
 * The files docs/architecture.md's tables name (every table from "Every file under `src/`"
 * to the next heading, one a part): `src/a/b.ts`, or `b.ts` after one in the same cell (in src/a/).
 */
function tabledFiles(markdown: string): string[] {
  const start = markdown.indexOf('Every file under `src/`')
  const section = markdown.slice(start).split('\n').slice(1)
  const end = section.findIndex((line) => line.startsWith('## '))
  const cells = section
    .slice(0, end < 0 ? undefined : end)
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split('|')[1])
  return cells.flatMap((cell) => {
    const names = [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1])
    const folder = names[0]?.slice(0, names[0].lastIndexOf('/') + 1) ?? ''
    return names.map((name) => (name.includes('/') ? name : folder + name))
  })
}

describe("docs/architecture.md's table of every file under src/", () => {
  const tabled = tabledFiles(readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8'))
  const files = sourceFiles(SRC).map((path) => relative(ROOT, path))

  it('is read whole', () => {
    expect(tabled).toEqual(expect.arrayContaining(['src/index.ts', 'src/cli/slave-command.ts', 'src/pg/index.ts']))
  })

  it('names every file under src/', () => {
    expect(files.filter((file) => !tabled.includes(file)).sort()).toEqual([])
  })

  it('names no file that is not under src/ any more, and none twice', () => {
    expect(tabled.filter((file) => !files.includes(file))).toEqual([])
    expect(tabled.filter((file, i) => tabled.indexOf(file) !== i)).toEqual([])
  })
})
