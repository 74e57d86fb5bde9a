// A small real file system that fills up (or is read-only), for the tests of outputs that
// fail: tmpfs mounted on a temp dir, unmounted afterwards. Mounting needs root (or
// CAP_SYS_ADMIN); TMPFS_MISSING says why it cannot be done here, for skipIf.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'

/** A fresh empty dir of its own: not one of proc.ts's temp dirs, which are removed after each test, mounted or not. */
const mountPoint = (): string => mkdtempSync(join(tmpdir(), 'tm-tmpfs-'))

function mount(dir: string, options: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] })
}

function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Why no tmpfs can be mounted here (undefined: it can), found by mounting one once. */
export const TMPFS_MISSING: string | undefined = (() => {
  const dir = mountPoint()
  try {
    mount(dir, 'size=4k')
    unmount(dir)
    return undefined
  } catch (error) {
    return `cannot mount a tmpfs here (needs root): ${((error as { stderr?: Buffer }).stderr ?? String(error)).toString().trim()}`
  } finally {
    rmdirSync(dir)
  }
})()

/**
 * A tmpfs of `size` (mount's syntax: `64k`) mounted for the test file (beforeAll) and
 * unmounted after it; `readOnly` mounts it read-only. Returns its dir, valid in the tests.
 */
export function tmpfsForFile(size: string, readOnly = false): { dir: string } {
  const where = { dir: '' }
  beforeAll(() => {
    where.dir = mountPoint()
    mount(where.dir, `${readOnly ? 'ro,' : ''}size=${size}`)
  })
  afterAll(() => {
    if (where.dir === '') return
    unmount(where.dir)
    rmdirSync(where.dir)
  })
  return where
}
