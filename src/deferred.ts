/** A promise with its settle functions (Promise.withResolvers, which Node 20 lacks). */
export interface Deferred<T> {
  readonly promise: Promise<T>
  readonly resolve: (value: T) => void
  readonly reject: (error: unknown) => void
}

/** A new {@link Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {}
  let reject: (error: unknown) => void = () => {}
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * Runs `step` now and returns its result as a promise that rejects with what it throws
 * (Promise.try, which Node 20 lacks): a synchronous implementation of an async interface.
 */
export function promised<T>(step: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(step()))
}
