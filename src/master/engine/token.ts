import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/** Compares a presented token with the run's in constant time (hashes have equal length). */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false
  return timingSafeEqual(digest(expected), digest(presented))
}

/** A fresh random token for a run listening beyond loopback. */
export function generateToken(): string {
  return randomBytes(18).toString('base64url')
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}
