import { hostname } from 'node:os'
import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs'
import { LockError } from '../errors.js'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the run's lock file, so two masters never run the same key at once. A lock
 * left by a dead process on this host is taken over.
 */
export function acquireLock(path: string, runKey: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, JSON.stringify({ pid: process.pid, hostname: hostname(), since: new Date().toISOString() }) + '\n')
      closeSync(fd)
      return () => {
        try {
          unlinkSync(path)
        } catch {
          // Already gone: nothing to release.
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LockError(`Cannot create lock file '${path}': ${(error as Error).message}`, path)
      }
    }
    let holder: { pid?: number; hostname?: string } = {}
    try {
      holder = JSON.parse(readFileSync(path, 'utf8'))
    } catch {
      // Unreadable lock: treat as held, the message says how to clear it.
    }
    const stale = holder.hostname === hostname() && typeof holder.pid === 'number' && !alive(holder.pid)
    if (!stale) {
      const who = holder.pid ? `master pid ${holder.pid} on ${holder.hostname}` : 'another master'
      throw new LockError(`Run '${runKey}' is in use by ${who} (lock file '${path}'); stop it first, or delete the lock file if that master is gone`, path)
    }
    try {
      unlinkSync(path)
    } catch (error) {
      // Another master took the stale lock over first: the next open says who.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new LockError(`Cannot remove stale lock file '${path}': ${(error as Error).message}`, path)
    }
  }
  throw new LockError(`Cannot take lock file '${path}'`, path)
}
