/**
 * JSON that keeps bigint values: a bigint is written as `{"$bigint":"123"}` and read
 * back as `123n`. Checkpoints and the failed-jobs log use it, so bigint job keys
 * survive a restart with their type (a Set tells `1n` from `1`).
 */

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? { $bigint: value.toString() } : value
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const big = (value as { $bigint?: unknown }).$bigint
    if (typeof big === 'string' && Object.keys(value).length === 1) return BigInt(big)
  }
  return value
}

/** JSON.stringify that encodes bigints. */
export function stringify(value: unknown, indent?: number): string {
  return JSON.stringify(value, replacer, indent)
}

/** JSON.parse that decodes what {@link stringify} encoded. */
export function parse(text: string): unknown {
  return JSON.parse(text, reviver)
}
