import { CheckpointError } from '../../errors.js'
import type { JobKey } from '../../options.js'
import { shownArgs } from '../../run-args.js'
import type { Checkpoint } from './checkpoint.js'
import { newRunIdentity, runIdentity } from './checkpoint.js'
import { SkipSet } from './skip-set.js'
import type { JournalEntries, ResumePoint } from './state-store.js'

// The rules every StateStore follows alike, kept beside the interface so that neither
// store borrows them from the other.

/** Name of the run that replays the failed jobs of run `key` (`--retry-failed`). */
export const retryKey = (key: string): string => `${key}.retry`

/** The argument under which a retry pass saves where the jobs it replays were moved to. */
export const RETRY_LOG_ARG = 'retry-log'

/**
 * The run whose failed-jobs log takes the failures of run `key`, saved as `saved`: a retry
 * pass's (a `<run>.retry` whose checkpoint names the jobs it replays) go to its run's, where
 * the next `--retry-failed` finds them; any other run's to its own.
 */
export function failuresRunOf(key: string, saved: Checkpoint | undefined): string {
  const run = key.slice(0, -retryKey('').length)
  return saved?.args[RETRY_LOG_ARG] !== undefined && key === retryKey(run) ? run : key
}

function showArgs(args: Record<string, string>): string {
  const pairs = Object.entries(args).map(([k, v]) => `${k}=${v}`)
  return pairs.length === 0 ? '(none)' : pairs.join(' ')
}

function sameArgs(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort()
  const kb = Object.keys(b).sort()
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k])
}

/**
 * Refuses to resume run `key`, saved with `saved` arguments (where: the checkpoint's place,
 * for the error), with other `args`. Both are compared as shown (secrets masked): a checkpoint
 * of an older version holds them in clear, and a changed password alone is the same run.
 */
export function refuseOtherArgs(key: string, saved: Record<string, string> | undefined, args: Record<string, string>, where: string): void {
  if (saved === undefined) return
  const [before, now] = [shownArgs(saved), shownArgs(args)]
  if (sameArgs(before, now)) return
  throw new CheckpointError(
    `Run '${key}' was started with arguments ${showArgs(before)} but is now given ${showArgs(now)}; ` +
      `use --reset to start it over with the new arguments, or another --key`,
    where,
  )
}

/**
 * Where to resume: checkpoint `cp` plus the journal `journal` written after it. The
 * journal's watermark may be further than the checkpoint's; what either lists as finished
 * beyond the final position is skipped.
 */
export function foldResume(cp: Checkpoint | undefined, journal: JournalEntries): ResumePoint {
  // A crash between a checkpoint and the journal's truncation leaves records older than
  // the checkpoint: positions and counts only grow, so the larger of each is the truth.
  const ahead = journal.position > (cp?.position ?? 0)
  const position = ahead ? journal.position : (cp?.position ?? 0)
  const counts = {
    done: Math.max(cp?.counts.done ?? 0, journal.counts?.done ?? 0),
    failed: Math.max(cp?.counts.failed ?? 0, journal.counts?.failed ?? 0),
  }
  const seqs: number[] = []
  const keys: JobKey[] = []
  const known = new Set<number>()
  const add = (seq: number, key: JobKey): void => {
    if (seq < position || known.has(seq)) return
    known.add(seq)
    seqs.push(seq)
    keys.push(key)
  }
  for (const [seq, key] of cp?.finished ?? []) add(seq, key)
  for (let i = 0; i < journal.seqs.length; i++) add(journal.seqs[i], journal.keys[i])
  return {
    // Every run has its checkpoint before its first job (begin): one without is a run not begun.
    id: cp === undefined ? newRunIdentity() : runIdentity(cp),
    position,
    last: ahead ? journal.last : (cp?.last ?? null),
    skip: new SkipSet(seqs, keys),
    counts,
    elapsed: cp?.elapsed ?? 0,
    startedAt: cp?.startedAt ?? new Date().toISOString(),
  }
}
