/**
 * Set (to `1`) in the environment of a local slave (LocalSlaves: `tm-master --spawn`,
 * `tm-slave --procs`): it ends when the process that started it is gone, killed -9
 * included, rather than live on unwatched (a slave of `--spawn` reconnects for good).
 * LocalSlaves opens an IPC channel to each slave; its closing says the parent is gone.
 */
export const PARENT_WATCH_ENV = 'TM_PARENT_WATCH'

/**
 * In a slave process: when the process that started it asked for it ({@link PARENT_WATCH_ENV}),
 * a function that starts the watch and gives a promise settled when that process is gone;
 * else undefined. The variable is read and removed at once, so the handler's own children
 * never see it; the watch starts once the master's address came over the channel
 * (master-handover.ts), whose wait must keep the process alive, which the watch never does.
 */
export function parentWatch(proc: NodeJS.Process = process): (() => Promise<void>) | undefined {
  const asked = proc.env[PARENT_WATCH_ENV] === '1'
  delete proc.env[PARENT_WATCH_ENV]
  if (!asked) return undefined
  return () => {
    // Gone before: its channel is closed already.
    if (proc.channel == null || !proc.connected) return Promise.resolve()
    return new Promise((resolve) => {
      proc.once('disconnect', () => resolve())
      // A 'disconnect' listener refs the channel: unref it after adding the listener.
      proc.channel?.unref()
    })
  }
}
