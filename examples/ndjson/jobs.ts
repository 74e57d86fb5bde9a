/**
 * The jobs: every line of a large NDJSON file, as `{ offset, line }`. The key is the
 * line's byte offset, so on resume the file is opened at `last` (the offset of the last
 * line known done) and only that one line is read again and skipped: nothing before it
 * is reread, however large the file.
 *   tm-master examples/ndjson/jobs.ts --spawn 2 --handler examples/ndjson/handler.ts:handleJob
 */
import { createReadStream } from 'node:fs'
import { INPUT } from './paths.ts'

const NEWLINE = 0x0a

export async function* getJobs(last: number | undefined): AsyncGenerator<{ offset: number; line: string }> {
  /** File offset of `buffer[0]`. */
  let base = last ?? 0
  // The line at `last` is done: skip it.
  let skip = last !== undefined
  let rest: Buffer | undefined
  for await (const chunk of createReadStream(INPUT, { start: base }) as AsyncIterable<Buffer>) {
    const buffer = rest === undefined ? chunk : Buffer.concat([rest, chunk])
    let from = 0
    for (let nl = buffer.indexOf(NEWLINE); nl !== -1; nl = buffer.indexOf(NEWLINE, from)) {
      if (skip) skip = false
      else if (nl > from) yield { offset: base + from, line: buffer.toString('utf8', from, nl) }
      from = nl + 1
    }
    base += from
    rest = from < buffer.length ? buffer.subarray(from) : undefined
  }
  // A last line without a newline.
  if (rest !== undefined && !skip) yield { offset: base, line: rest.toString('utf8') }
}

export const key = (job: { offset: number }): number => job.offset

/** Lines in the file, for the progress bar (one quick pass counting newlines). */
export async function total(): Promise<number> {
  let count = 0
  for await (const chunk of createReadStream(INPUT) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) count++
  }
  return count
}
