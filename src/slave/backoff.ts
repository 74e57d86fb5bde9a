/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from 100 ms, capped
 * at 5 s, with full jitter in its upper half so a fleet does not reconnect in step.
 */
export function backoffDelay(attempt: number, random = Math.random): number {
  const ceiling = Math.min(5000, 100 * 2 ** Math.min(attempt, 16))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

/** `host:port`, `ws://…` or `wss://…` as a WebSocket URL. */
export function masterUrl(host: string): string {
  return /^wss?:\/\//.test(host) ? host : `ws://${host}`
}
