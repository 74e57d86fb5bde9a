import { ConnectionError } from '../errors.js'

/**
 * Set (to `1`) in the environment of a local slave started before its master listens
 * (`tm-master --spawn` starts its slaves at launch, so that their Node, tsx and handler
 * load while the master opens its run): the slave waits on its IPC channel for the
 * master's address instead of reading `--host`.
 */
export const HANDOVER_ENV = 'TM_MASTER_HANDOVER'

/**
 * What a waiting slave sends the process that started it once it listens for the address:
 * a message sent before would be lost (a process drops what comes before its first listener).
 */
export interface HandoverAsked {
  type: 'ready'
}

/** Whether an IPC message is a {@link HandoverAsked}. */
export function isHandoverAsked(message: unknown): message is HandoverAsked {
  return typeof message === 'object' && message !== null && (message as Partial<HandoverAsked>).type === 'ready'
}

/** What the process that started a slave sends it once its master listens and the slave asked. */
export interface MasterHandover {
  type: 'master'
  /** Where the master listens (`ws://host:port`, `wss://host:port`). */
  host: string
  /** The run's token, if the master needs one. */
  token?: string
}

/** Whether an IPC message is a {@link MasterHandover} (anything else is not for us). */
export function isHandover(message: unknown): message is MasterHandover {
  const m = message as Partial<MasterHandover> | null
  return (
    typeof m === 'object' &&
    m !== null &&
    m.type === 'master' &&
    typeof m.host === 'string' &&
    (m.token === undefined || typeof m.token === 'string')
  )
}

const wentAway = (): ConnectionError => new ConnectionError('The master that started this slave went away before it listened')

/**
 * In a slave process: the master's address from the process that started it, when that
 * process said it would hand it over ({@link HANDOVER_ENV}, over the IPC channel it opened);
 * else undefined at once (the slave reads its `--host`). It asks for it (see {@link HandoverAsked}), so call it
 * as soon as the process is ready to wait, and await it when the address is needed. The channel is closed once the address
 * came (unless the slave watches its parent through it, see parent-watch.ts), so it never keeps the slave alive; a parent that went away before sending it (its
 * channel closed, or never there) is a {@link ConnectionError}. The variable is removed, so the handler's own children never see it.
 */
export function masterHandover(proc: NodeJS.Process = process): Promise<MasterHandover | undefined> {
  const asked = proc.env[HANDOVER_ENV] === '1'
  delete proc.env[HANDOVER_ENV]
  if (!asked) return Promise.resolve(undefined)
  const send = proc.send?.bind(proc)
  // Its parent already gone (killed while the slave started): --host is no master of this run.
  if (send === undefined || !proc.connected) return Promise.reject(wentAway())
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (!isHandover(message)) return
      settle()
      // Closed unless the slave watches its parent through it (parent-watch.ts).
      if (proc.listenerCount('disconnect') === 0) proc.disconnect()
      resolve(message)
    }
    const onDisconnect = (): void => {
      settle()
      reject(wentAway())
    }
    const settle = (): void => {
      proc.off('message', onMessage)
      proc.off('disconnect', onDisconnect)
    }
    proc.on('message', onMessage)
    proc.on('disconnect', onDisconnect)
    const ready: HandoverAsked = { type: 'ready' }
    send(ready)
  })
}
