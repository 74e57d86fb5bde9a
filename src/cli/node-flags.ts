/**
 * V8 flags of the master (the `bin/tm-master.js` shebang carries the same, and a test
 * holds them equal), so its memory stays flat from the first thousand jobs to the last
 * billion (docs/performance.md):
 * - a young generation capped at 4 MiB per semi-space: without the cap V8 grows it under
 *   the steady allocation of a long run, about 20 MB more per process, for no measurable
 *   gain in throughput;
 * - no allocation-site pretenuring: when V8's first full collection finds the buffer's
 *   10,000 jobs all alive, it decides that the generator's job literal makes long-lived
 *   objects and never goes back. Every later job is then allocated in the old space and
 *   dies there: 1 run in 27 peaked at about 100 MB instead of 74.
 *
 * Slaves do not get them: they run the user's handler, whose allocation profile is the
 * user's business, under Node's defaults. A user opts in by starting the slave under
 * flags (`node --max-semi-space-size=4 $(npx which tm-slave) ...`, or NODE_OPTIONS for
 * the flags Node allows there); `--procs` children inherit them.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--no-allocation-site-pretenuring']
