/**
 * Asks the async `probe` again every `intervalMs` until it gives a value other than
 * undefined or false (a master's status document changes once a second); gives up with
 * an error naming `what` after `timeoutMs`.
 */
export async function poll<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
