// Jobs { id } for id 0..n-1, yielded only once the file ctx.args.gate exists: the
// many-slaves scenarios connect the whole fleet first, and time the run from the gate.
// gate=never: no job ever (bench/per-connection.mjs measures idle connections), and no polling.
import { existsSync } from 'node:fs'

export async function* getJobs(last, ctx) {
  const n = Number(ctx.args.n)
  if (ctx.args.gate === 'never') await new Promise(() => {})
  while (!existsSync(ctx.args.gate)) await new Promise((resolve) => setTimeout(resolve, 5))
  for (let id = last === undefined ? 0 : last + 1; id < n; id++) yield { id }
}
