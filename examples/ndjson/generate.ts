/**
 * Writes the example's input if it is missing: `lines=N` orders (default 200,000), one
 * JSON object a line.
 *   npx tsx examples/ndjson/generate.ts lines=200000
 */
import { createWriteStream, existsSync } from 'node:fs'
import { once } from 'node:events'
import { INPUT } from './paths.ts'

const arg = process.argv.slice(2).find((a) => a.startsWith('lines='))
const lines = Number(arg?.slice('lines='.length) ?? 200_000)

if (existsSync(INPUT)) {
  console.log(`${INPUT} exists; delete it to start over`)
} else {
  const out = createWriteStream(INPUT)
  for (let id = 1; id <= lines; id++) {
    const line = JSON.stringify({ id, customer: `c${id % 997}`, price: (id % 100) + 0.5, qty: (id % 7) + 1 }) + '\n'
    if (!out.write(line)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  console.log(`Wrote ${lines} lines to ${INPUT}`)
}
