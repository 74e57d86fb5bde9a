import { mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

/**
 * Makes directory `path` and its missing parents, like `mkdirSync(path, { recursive: true })`,
 * which loops for ever at full CPU (ignoring SIGTERM) where mkdir says ENOENT under a parent
 * that exists, as under /proc: each level is made on its own here, and such an error is
 * thrown as it is.
 */
export function makeDir(path: string): void {
  const full = resolve(path)
  if (isDir(full)) return
  const parent = dirname(full)
  if (parent !== full) makeDir(parent)
  try {
    mkdirSync(full)
  } catch (error) {
    // Made meanwhile (by another master): what was wanted.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && isDir(full)) return
    throw error
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
