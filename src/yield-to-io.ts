/**
 * Resolves after the event loop has had a turn (timers, sockets): long synchronous
 * stretches (pulling a sync generator, running sync handlers) await it now and then.
 */
export const yieldToIO = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
