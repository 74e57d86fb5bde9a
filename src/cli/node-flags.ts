/**
 * V8 flags every Taskmaster process runs with (the `bin/` shebangs carry the same, and a
 * test holds them equal). A young generation capped at 4 MiB per semi-space keeps
 * memory flat from the first thousand jobs to the last billion: without the cap V8 grows
 * it under the steady allocation of a long run, about 20 MB more per process, for no
 * measurable gain in throughput (docs/performance.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']
