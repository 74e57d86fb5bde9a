import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { StateFileError } from '../../errors.js'
import type { JobKey } from '../../options.js'
import { stringify } from './json.js'
import { writeAllSync } from './write-all.js'
import { makeDir } from './make-dir.js'

/** One line of the failed-jobs log. */
export interface FailedJob {
  key: JobKey
  job: unknown
  attempts: number
  error: { message: string; stack?: string | undefined }
  /** ISO time of the last attempt's failure. */
  at: string
}

/**
 * The failed-jobs log, `<state-dir>/<key>.failed.jsonl`: one JSON object a line for
 * every job that ran out of attempts. Lines are fsynced before the jobs count as
 * finished, so a job is in the log or it is run again: never dropped.
 */
export class FailedLog {
  readonly path: string
  #fd: number | undefined

  constructor(path: string) {
    this.path = path
  }

  /**
   * Appends entries and fsyncs them. Returns a warning if the log was deleted while the
   * run is live: it is created again (its dir too), so these entries are not written
   * to a file no one can read.
   */
  append(entries: readonly FailedJob[]): string | undefined {
    if (entries.length === 0) return undefined
    const text = entries.map((e) => stringify(e)).join('\n') + '\n'
    let warning: string | undefined
    let size: number | undefined
    try {
      if (this.#fd !== undefined && fstatSync(this.#fd).nlink === 0) {
        closeSync(this.#fd)
        this.#fd = undefined
        warning = `The failed-jobs log '${this.path}' was deleted while the run was live: the jobs it listed before are lost from it; it is started again`
      }
      if (this.#fd === undefined) {
        // The state dir may have been deleted while the run is live.
        makeDir(dirname(this.path))
        this.#fd = openSync(this.path, 'a')
      }
      size = fstatSync(this.#fd).size
      writeAllSync(this.#fd, Buffer.from(text))
      fsyncSync(this.#fd)
    } catch (error) {
      // A write cut short (a full disk) leaves whole lines only: a torn line would make the
      // log unreadable to --retry-failed. These entries' jobs are not finished: they run again.
      if (this.#fd !== undefined && size !== undefined) {
        try {
          ftruncateSync(this.#fd, size)
        } catch {
          // The log keeps the torn line; its reader cuts a last line without a newline.
        }
      }
      throw new StateFileError(`Cannot write the failed-jobs log '${this.path}': ${(error as Error).message}`, this.path)
    }
    return warning
  }

  /** Closes the file, if it was opened. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }
}
