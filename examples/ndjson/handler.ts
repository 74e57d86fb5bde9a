/**
 * Turns each order line into `{ id, customer, amount }` and appends it to this slave
 * process's own file in the output dir (one file per process: no two writers share one).
 */
import { appendFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { OUTPUT } from './paths.ts'

mkdirSync(OUTPUT, { recursive: true })
const file = join(OUTPUT, `orders-${process.pid}.ndjson`)

export function handleJob(job: { offset: number; line: string }): void {
  const order = JSON.parse(job.line) as { id: number; customer: string; price: number; qty: number }
  appendFileSync(file, JSON.stringify({ id: order.id, customer: order.customer, amount: order.price * order.qty }) + '\n')
}
