// vitest's asymmetric matchers are typed `any`, which would make every literal holding one
// `any` too: these are the same matchers typed `unknown`.
import { expect } from 'vitest'

/** Matches any number. */
export const anyNumber: unknown = expect.any(Number)

/** Matches a string that matches `pattern`. */
export const matching = (pattern: RegExp | string): unknown => expect.stringMatching(pattern)
