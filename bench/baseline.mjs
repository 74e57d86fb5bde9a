// The in-process baselines the benchmark compares Taskmaster with: one Node process that
// iterates an async generator and awaits a no-op handler, and the same with every job
// MessagePack-encoded and decoded in batches of 500.
import { Packr } from 'msgpackr'

async function* jobs(n) {
  for (let id = 0; id < n; id++) yield { id }
}

async function handler() {}

/** Generator plus handler; resolves with jobs/s. */
export async function plain(n) {
  const start = performance.now()
  for await (const job of jobs(n)) await handler(job)
  return (n * 1000) / (performance.now() - start)
}

/** Generator, encode/decode in batches of 500, handler; resolves with jobs/s. */
export async function withCodec(n) {
  const packr = new Packr({ useRecords: false })
  const start = performance.now()
  let batch = []
  const flush = async () => {
    const decoded = packr.unpack(packr.pack(batch))
    batch = []
    for (const job of decoded) await handler(job)
  }
  for await (const job of jobs(n)) {
    batch.push(job)
    if (batch.length === 500) await flush()
  }
  await flush()
  return (n * 1000) / (performance.now() - start)
}
