/**
 * Set (to `1`) in the environment of a local slave (LocalSlaves: `tm-master --spawn`,
 * `tm-slave --procs`): it ends when the process that started it is gone, killed -9
 * included, rather than live on unwatched (a slave of `--spawn` reconnects for good).
 * LocalSlaves opens an IPC channel to each slave; its closing says the parent is gone.
 */
export const PARENT_WATCH_ENV = 'TM_PARENT_WATCH'

/**
 * In a slave process: a promise settled when the process that started it is gone, when that
 * process asked for it ({@link PARENT_WATCH_ENV}); else undefined. The channel never keeps
 * the slave alive. The variable is removed, so the handler's own children never see it.
 */
export function parentGone(proc: NodeJS.Process = process): Promise<void> | undefined {
  const asked = proc.env[PARENT_WATCH_ENV] === '1'
  delete proc.env[PARENT_WATCH_ENV]
  if (!asked) return undefined
  // Gone before this process started to listen: its channel is closed already.
  if (proc.channel == null || !proc.connected) return Promise.resolve()
  return new Promise((resolve) => {
    proc.once('disconnect', () => resolve())
    // A 'disconnect' listener refs the channel: unref it after adding the listener.
    proc.channel?.unref()
  })
}
