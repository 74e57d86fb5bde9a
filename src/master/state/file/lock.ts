import { createHash, randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { linkSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { LockError } from '../../../errors.js'

/** What a lock file (or a takeover claim) says about the process holding it. */
interface Holder {
  pid?: number
  hostname?: string
}

/**
 * Claims stacked on one stale lock before giving up: a level is only added when the
 * taker holding the level below died in the middle of its takeover.
 */
const MAX_CLAIM_LEVELS = 8
/** How long a master waits for another one that is taking the same stale lock over. */
const TAKEOVER_WAIT_MS = 2000

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Only a holder on this host can be known dead; one elsewhere is assumed alive. */
function isStale(holder: Holder): boolean {
  return holder.hostname === hostname() && typeof holder.pid === 'number' && !alive(holder.pid)
}

function parseHolder(text: string): Holder {
  try {
    const value = JSON.parse(text) as unknown
    return typeof value === 'object' && value !== null ? value : {}
  } catch {
    // Unreadable: treated as held, the message says how to clear it.
    return {}
  }
}

/** The file's text, or undefined if it does not exist. */
function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new LockError(`Cannot read lock file '${path}': ${(error as Error).message}`, path)
  }
}

/** Creates `path` as a hard link of `from`: atomic, and fails if `path` exists. */
function tryLink(from: string, path: string): boolean {
  try {
    linkSync(from, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new LockError(`Cannot create lock file '${path}': ${(error as Error).message}`, path)
  }
}

/** Blocks the thread for `ms` (acquireLock is synchronous, and a takeover lasts microseconds). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

function inUse(runKey: string, path: string, holder: Holder): LockError {
  const who = holder.pid ? `master pid ${holder.pid} on ${holder.hostname}` : 'another master'
  return new LockError(
    `Run '${runKey}' is in use by ${who} (lock file '${path}'); stop it first, or delete the lock file if that master is gone`,
    path,
  )
}

/**
 * True while a master holds the lock file at `path`: it is there and its holder is not known
 * dead (one on this host whose pid is gone left it behind, killed; one on another host is
 * assumed alive, as {@link acquireLock} assumes). Reads it, takes nothing.
 */
export function lockHeld(path: string): boolean {
  const text = readIfExists(path)
  return text !== undefined && !isStale(parseHolder(text))
}

type Takeover = { outcome: 'won' | 'lost' } | { outcome: 'busy'; claimer: Holder }

/**
 * Replaces the stale lock whose text is `stale` by the prepared lock `temp`, unless
 * another process does first. Deleting a stale lock and then creating one is not safe
 * (a second taker may delete the lock the first has just created), so the right to
 * replace this one stale lock is a claim file named after its content, created with
 * link (exclusive). Its holder checks the lock still is that stale one and renames its
 * own over it (atomic, the lock never goes missing). A claim is removed only once the
 * lock has changed for good, so a taker that gets the claim late sees the change and
 * loses. A claim whose taker died before renaming is decided by the next level's claim,
 * among the takers that saw it dead.
 */
function takeOver(path: string, temp: string, stale: string): Takeover {
  const id = createHash('sha256').update(stale).digest('hex').slice(0, 16)
  const claims: string[] = []
  for (let level = 0; level < MAX_CLAIM_LEVELS; level++) {
    const claim = `${path}.takeover-${id}-${level}`
    claims.push(claim)
    if (tryLink(temp, claim)) {
      try {
        if (readIfExists(path) !== stale) return { outcome: 'lost' }
        renameSync(temp, path)
        return { outcome: 'won' }
      } finally {
        // The lock is no longer that stale one: the claims on it (ours, the dead takers') are moot.
        for (const done of claims) rmSync(done, { force: true })
      }
    }
    const text = readIfExists(claim)
    // A claim removed means the lock has changed: the caller reads it again.
    if (text === undefined) return { outcome: 'lost' }
    const claimer = parseHolder(text)
    if (!isStale(claimer)) return { outcome: 'busy', claimer }
  }
  throw new LockError(
    `Cannot take over the stale lock file '${path}': ${MAX_CLAIM_LEVELS} masters died taking it over; delete it and the files '${path}.takeover-*'`,
    path,
  )
}

/**
 * Takes the run's lock file, so two masters never run the same key at once. A lock
 * left by a dead process on this host is taken over; when several processes find it
 * at once, exactly one gets it and the others are told who.
 */
export function acquireLock(path: string, runKey: string): () => void {
  const nonce = randomBytes(8).toString('hex')
  const mine = JSON.stringify({ pid: process.pid, hostname: hostname(), since: new Date().toISOString(), nonce }) + '\n'
  // Written whole before it is linked in: nobody ever reads a half-written lock.
  const temp = `${path}.${process.pid}.${nonce}.tmp`
  try {
    writeFileSync(temp, mine, { flag: 'wx' })
  } catch (error) {
    throw new LockError(`Cannot create lock file '${path}': ${(error as Error).message}`, path)
  }
  const release = (): void => {
    try {
      // Only our own lock: never one another master has taken over after we were thought dead.
      if (readFileSync(path, 'utf8') === mine) unlinkSync(path)
    } catch {
      // Already gone: nothing to release.
    }
  }
  try {
    const deadline = Date.now() + TAKEOVER_WAIT_MS
    for (;;) {
      if (tryLink(temp, path)) return release
      const text = readIfExists(path)
      // Released between the two calls: try again.
      if (text === undefined) continue
      const holder = parseHolder(text)
      if (!isStale(holder)) throw inUse(runKey, path, holder)
      const takeover = takeOver(path, temp, text)
      if (takeover.outcome === 'won') return release
      if (takeover.outcome === 'busy') {
        if (Date.now() > deadline) throw inUse(runKey, path, takeover.claimer)
        pause(1)
      }
    }
  } finally {
    rmSync(temp, { force: true })
  }
}
