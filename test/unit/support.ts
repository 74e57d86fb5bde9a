import { spawnSync } from 'node:child_process'
import { expect } from 'vitest'
import type { Checkpoint } from '../../src/master/state/checkpoint.js'
import { Journal } from '../../src/master/state/file/journal.js'
import type { JournalRecord } from '../../src/master/state/file/journal.js'

type ErrorClass<T> = abstract new (...args: never[]) => T

/** Runs `fn`, expects it to throw an instance of `type`, and returns the error. */
export function thrownBy<T extends Error>(fn: () => unknown, type: ErrorClass<T>): T {
  let caught: unknown
  try {
    fn()
  } catch (error) {
    caught = error
  }
  return checked(caught, type)
}

/** Awaits `promise`, expects it to reject with an instance of `type`, and returns the error. */
export async function rejectionOf<T extends Error>(promise: Promise<unknown>, type: ErrorClass<T>): Promise<T> {
  return checked(
    await promise.then(
      () => undefined,
      (error: unknown) => error,
    ),
    type,
  )
}

function checked<T extends Error>(caught: unknown, type: ErrorClass<T>): T {
  expect(caught).toBeInstanceOf(type)
  return caught as T
}

/** The pid of a process that has exited (and been reaped). */
export function deadPid(): number {
  const pid = spawnSync(process.execPath, ['--version']).pid
  expect(() => process.kill(pid, 0)).toThrow()
  return pid
}

/** A journal record at the start of a run, with `fields` replaced. */
export function journalRecord(fields: Partial<JournalRecord> = {}): JournalRecord {
  return { position: 0, last: null, done: 0, failed: 0, ranges: [], keys: [], ...fields }
}

/** Appends `records` (each completed by {@link journalRecord}) to the journal at `path`, then closes it; returns `path`. */
export function writeJournal(path: string, records: Partial<JournalRecord>[]): string {
  const journal = new Journal(path)
  for (const record of records) journal.append(journalRecord(record))
  journal.close()
  return path
}

/** A checkpoint of run 'run' at the start, with `fields` replaced. */
export function checkpoint(fields: Partial<Checkpoint> = {}): Checkpoint {
  return {
    format: 1,
    key: 'run',
    args: { n: '10' },
    complete: false,
    position: 0,
    last: null,
    finished: [],
    counts: { done: 0, failed: 0 },
    elapsed: 0,
    startedAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...fields,
  }
}
