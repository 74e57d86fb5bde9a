/**
 * Abandoned jobs still running: JavaScript cannot kill a function, so an attempt the
 * master took back (`--job-timeout`) whose handler ignores `ctx.signal` runs on in the
 * slave process after its lane has moved on. A few such orphans cost little; past
 * {@link abandonedLimit} of them the slave drains and exits with
 * {@link SLAVE_EXIT_RESTART}, so whoever runs it (`--spawn`, `--procs`, systemd) starts a
 * fresh process and the memory, sockets and CPU the orphans hold are freed.
 */

/** Abandoned jobs tolerated at least, whatever the concurrency. */
const ABANDONED_MIN = 8

/**
 * How many abandoned jobs (or batch calls) may still be running in one slave process
 * before it restarts: its concurrency (what the process is sized to hold at once), and at
 * least {@link ABANDONED_MIN}, so one hung job at a small concurrency does not cost a
 * restart (a standalone slave without a supervisor keeps working through a few). With a
 * batch handler of `batch` jobs a call, a call that hangs is timed out and split in halves
 * down to the job that hangs it, leaving a hung call behind at each of the
 * `ceil(log2(batch))` halvings: each lane may isolate one such job on top.
 */
export function abandonedLimit(concurrency: number, batch = 1): number {
  return Math.max(ABANDONED_MIN, concurrency) + concurrency * Math.ceil(Math.log2(batch))
}

/** Exit code of a slave that restarts to free its abandoned jobs: run it again. */
export const SLAVE_EXIT_RESTART = 3

/** The one log line a slave writes when it restarts for its abandoned jobs. */
export function abandonedMessage(count: number): string {
  return `${count} abandoned jobs are still running in this process; restarting it to free them`
}
