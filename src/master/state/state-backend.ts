import type { ResolvedMasterOptions } from '../../options.js'
import { FileBackend } from './file/backend.js'
import { PgBackend } from './pg/backend.js'
import type { StateBackend } from './state-store.js'

/**
 * How long a master's lease in a PostgreSQL state store lasts without renewal, in
 * heartbeats: longer than a slave waits for a silent master (2.5), so the slaves of a
 * paused master have left it when a standby takes over.
 */
export const LEASE_HEARTBEATS = 4

/** How often a standby asks for the lease: a quarter heartbeat, so it takes over within a few. */
const standbyPoll = (heartbeat: number): number => Math.min(1000, Math.max(50, (heartbeat * 1000) / 4))

/** What picks and sets up the store: the master's options of that name. */
export type BackendOptions = Pick<ResolvedMasterOptions, 'stateDir' | 'stateStore' | 'acceptJournalLoss' | 'heartbeat'>

/** Where runs keep their state: the PostgreSQL of `stateStore` if given, else files in `stateDir`. */
export function stateBackend(o: BackendOptions): StateBackend {
  if (o.stateStore === undefined) return new FileBackend(o.stateDir, { acceptJournalLoss: o.acceptJournalLoss })
  return new PgBackend(o.stateStore, { leaseMs: LEASE_HEARTBEATS * o.heartbeat * 1000, pollMs: standbyPoll(o.heartbeat) })
}
