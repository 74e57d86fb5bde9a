import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { createHash } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LockError } from '../../../../../src/errors.js'
import { acquireLock, lockHeld } from '../../../../../src/master/state/file/lock.js'
import { cleanTempDirs, tempDir } from '../../../../helpers/proc.js'
import { deadPid, thrownBy } from '../../../support.js'

afterEach(cleanTempDirs)

const lockPath = (): string => join(tempDir(), 'run.lock')
const writeHolder = (path: string, holder: object): void => writeFileSync(path, JSON.stringify(holder))

describe('acquireLock', () => {
  it('writes the holder into the lock file and release removes it', () => {
    const path = lockPath()
    const release = acquireLock(path, 'run')
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, hostname: hostname() })
    release()
    expect(existsSync(path)).toBe(false)
    release()
  })

  it('refuses a lock held by a live process, naming it', () => {
    const path = lockPath()
    const release = acquireLock(path, 'run')
    const error = thrownBy(() => acquireLock(path, 'run'), LockError)
    expect(error.code).toBe('TM_ERR_LOCKED')
    expect(error.exitCode).toBe(2)
    expect(error.message).toBe(
      `Run 'run' is in use by master pid ${process.pid} on ${hostname()} (lock file '${path}'); stop it first, or delete the lock file if that master is gone`,
    )
    release()
    acquireLock(path, 'run')()
  })

  it('takes over a lock left by a dead process on this host', () => {
    const path = lockPath()
    writeHolder(path, { pid: deadPid(), hostname: hostname() })
    const release = acquireLock(path, 'run')
    expect((JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid).toBe(process.pid)
    release()
  })

  it('does not take over a lock of a dead pid on another host', () => {
    const path = lockPath()
    const pid = deadPid()
    writeHolder(path, { pid, hostname: 'elsewhere.invalid' })
    expect(() => acquireLock(path, 'run')).toThrow(`in use by master pid ${pid} on elsewhere.invalid`)
  })

  it('treats an unreadable lock file as held', () => {
    const path = lockPath()
    writeFileSync(path, 'not json')
    expect(() => acquireLock(path, 'job-7')).toThrow(`Run 'job-7' is in use by another master (lock file '${path}')`)
  })

  it('reports a lock file that cannot be created', () => {
    const path = join(tempDir(), 'missing', 'run.lock')
    expect(() => acquireLock(path, 'run')).toThrow(LockError)
    expect(() => acquireLock(path, 'run')).toThrow(`Cannot create lock file '${path}'`)
  })

  it('leaves nothing but the lock file in its directory, and release nothing at all', () => {
    const path = lockPath()
    writeHolder(path, { pid: deadPid(), hostname: hostname() })
    const release = acquireLock(path, 'run')
    expect(readdirSync(dirname(path))).toEqual(['run.lock'])
    release()
    expect(readdirSync(dirname(path))).toEqual([])
  })

  it('release leaves a lock that is no longer its own', () => {
    const path = lockPath()
    const release = acquireLock(path, 'run')
    const other = JSON.stringify({ pid: process.pid, hostname: hostname(), nonce: 'other' })
    writeFileSync(path, other)
    release()
    expect(readFileSync(path, 'utf8')).toBe(other)
  })

  // The right to replace a stale lock is the claim file named after its content.
  const claimOf = (path: string, level: number): string =>
    `${path}.takeover-${createHash('sha256').update(readFileSync(path, 'utf8')).digest('hex').slice(0, 16)}-${level}`

  it('takes over a stale lock whose first taker died holding the claim, and removes both claims', () => {
    const path = lockPath()
    writeHolder(path, { pid: deadPid(), hostname: hostname() })
    writeHolder(claimOf(path, 0), { pid: deadPid(), hostname: hostname(), nonce: 'dead-taker' })
    const release = acquireLock(path, 'run')
    expect((JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid).toBe(process.pid)
    expect(readdirSync(dirname(path))).toEqual([basename(path)])
    release()
  })

  it('refuses a stale lock that a live process is taking over, naming that process', () => {
    const path = lockPath()
    writeHolder(path, { pid: deadPid(), hostname: hostname() })
    const claim = claimOf(path, 0)
    writeHolder(claim, { pid: process.ppid, hostname: hostname(), nonce: 'live-taker' })
    expect(() => acquireLock(path, 'run')).toThrow(
      `Run 'run' is in use by master pid ${process.ppid} on ${hostname()} (lock file '${path}')`,
    )
    expect(readdirSync(dirname(path)).sort()).toEqual([basename(path), basename(claim)].sort())
  })
})

describe('lockHeld', () => {
  it('is true while a live master holds the lock, false once it is released or was never taken', () => {
    const path = lockPath()
    expect(lockHeld(path)).toBe(false)
    const release = acquireLock(path, 'run')
    expect(lockHeld(path)).toBe(true)
    release()
    expect(lockHeld(path)).toBe(false)
  })

  it('is false for a lock left by a dead process on this host (a master killed with -9), and takes nothing', () => {
    const path = lockPath()
    writeHolder(path, { pid: deadPid(), hostname: hostname() })
    const before = readFileSync(path, 'utf8')
    expect(lockHeld(path)).toBe(false)
    expect(readFileSync(path, 'utf8')).toBe(before)
    expect(readdirSync(dirname(path))).toEqual([basename(path)])
  })

  it('is true for a lock of another host, or one that cannot be read, as acquireLock takes them', () => {
    const path = lockPath()
    writeHolder(path, { pid: deadPid(), hostname: 'elsewhere.invalid' })
    expect(lockHeld(path)).toBe(true)
    writeFileSync(path, 'not json')
    expect(lockHeld(path)).toBe(true)
  })
})
