import type { Lane, LaneHost } from '../../src/slave/lane-strategy.js'

/** A {@link LaneHost} that records what a strategy tells it, as lines; `skip` lists the attempts (`seq:attempt`) taken back while queued. */
export function recordingHost(skip: string[] = []): { host: LaneHost; said: string[]; heirs: (Lane | undefined)[] } {
  const said: string[] = []
  const heirs: (Lane | undefined)[] = []
  const host: LaneHost = {
    skipped: (seq, attempt, connection) => {
      const at = skip.indexOf(`${seq}:${attempt}`)
      if (at < 0) return false
      skip.splice(at, 1)
      said.push(`skipped ${seq} (connection ${connection})`)
      return true
    },
    started: (count) => void said.push(`started ${count}`),
    ended: (seq, connection, failure, attempt) =>
      void said.push(`ended ${seq} attempt ${attempt} (connection ${connection})${failure === undefined ? '' : `: ${failure.message}`}`),
    dropped: (seq, connection) => void said.push(`dropped ${seq} (connection ${connection})`),
    orphan: (lane, reason) => {
      lane.orphaned = true
      lane.ctx.abort(reason)
      said.push(`orphan: ${reason.message}`)
    },
    replaced: (heir) => {
      heirs.push(heir)
      said.push(heir === undefined ? 'replaced' : 'replaced by an heir')
    },
  }
  return { host, said, heirs }
}
