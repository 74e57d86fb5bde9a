import type { JobsMessage } from './messages.js'

/** Seq of job `i` of a `jobs` message. */
export function seqAt(message: JobsMessage, i: number): number {
  return message.seqs !== undefined ? message.seqs[i] : message.first! + i
}

/** Attempt of job `i` of a `jobs` message. */
export function attemptAt(message: JobsMessage, i: number): number {
  return message.attempts !== undefined ? message.attempts[i] : 1
}

/** Every seq of a `jobs` message from job `from` on. */
export function seqsOf(message: JobsMessage, from = 0): number[] {
  const seqs: number[] = []
  for (let i = from; i < message.jobs.length; i++) seqs.push(seqAt(message, i))
  return seqs
}

/** The `jobs` message for parallel arrays, in its shortest form. */
export function jobsMessage(seqs: number[], jobs: unknown[], attempts: number[]): JobsMessage {
  const message: JobsMessage = { type: 'jobs', jobs }
  let consecutive = true
  let firstTries = true
  for (let i = 0; i < seqs.length; i++) {
    if (seqs[i] !== seqs[0] + i) consecutive = false
    if (attempts[i] !== 1) firstTries = false
  }
  if (consecutive && seqs.length > 0) message.first = seqs[0]!
  else message.seqs = seqs
  if (!firstTries) message.attempts = attempts
  return message
}

/** Jobs `from` to `to` (exclusive) of a `jobs` message, as a message of their own. */
export function sliceJobs(message: JobsMessage, from: number, to: number): JobsMessage {
  const part: JobsMessage = { type: 'jobs', jobs: message.jobs.slice(from, to) }
  if (message.seqs !== undefined) part.seqs = message.seqs.slice(from, to)
  else part.first = message.first! + from
  if (message.attempts !== undefined) part.attempts = message.attempts.slice(from, to)
  return part
}
