/**
 * A job generator over a range of numbers: `tm-master examples/range.ts count=100000`.
 * It resumes by key: `last` is the last number known done, so it starts after it.
 */
export function* getJobs(last: number | undefined, ctx: { args: Record<string, string> }) {
  const count = Number(ctx.args.count ?? 20000)
  for (let id = last === undefined ? 0 : last + 1; id < count; id++) yield { id }
}

/** For the progress bar and ETA. */
export const total = (ctx: { args: Record<string, string> }): number => Number(ctx.args.count ?? 20000)
