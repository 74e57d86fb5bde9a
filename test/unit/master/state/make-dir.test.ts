import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeDir } from '../../../../src/master/state/make-dir.js'
import { cleanTempDirs, tempDir } from '../../../helpers/proc.js'

afterEach(cleanTempDirs)

describe('makeDir', () => {
  it('makes a directory and its missing parents; one already there is fine', () => {
    const root = tempDir()
    const deep = join(root, 'a', 'b', 'c')
    makeDir(deep)
    expect(statSync(deep).isDirectory()).toBe(true)
    makeDir(deep)
    mkdirSync(join(root, 'x'))
    makeDir(join(root, 'x'))
  })

  it('throws where mkdir refuses: under /proc (where a recursive mkdirSync loops for ever), or a file in the way', () => {
    expect(() => makeDir('/proc/nope/state')).toThrow(/^ENOENT: no such file or directory, mkdir '\/proc\/nope'$/)
    const root = tempDir()
    writeFileSync(join(root, 'file'), '')
    expect(() => makeDir(join(root, 'file', 'dir'))).toThrow(/ENOTDIR|EEXIST/)
  })
})
