import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
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
    expect(outsideProtocol.map((path) => relative(SRC, path))).toEqual(expect.arrayContaining(['master/run.ts', 'master/server.ts', 'slave/slave.ts', 'errors.ts']))
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
})
