import { describe, expect, it } from 'vitest'
import { RETRY_LOG_ARG, failuresRunOf, retryKey } from '../../../../src/master/state/store-common.js'
import { checkpoint } from '../../support.js'

describe('failuresRunOf', () => {
  it("sends a retry pass's failed jobs to its run's log, and any other run's to its own", () => {
    const pass = checkpoint({ key: 'posts.retry', args: { [RETRY_LOG_ARG]: 'moved' } })
    expect(retryKey('posts')).toBe('posts.retry')
    expect(failuresRunOf('posts.retry', pass)).toBe('posts')
    expect(failuresRunOf('posts.shard-1-of-2.retry', pass)).toBe('posts.shard-1-of-2')
    // A run named like a pass but not recorded as one (its checkpoint names no moved jobs) keeps its own.
    expect(failuresRunOf('posts.retry', checkpoint({ key: 'posts.retry' }))).toBe('posts.retry')
    expect(failuresRunOf('posts.retry', undefined)).toBe('posts.retry')
    expect(failuresRunOf('posts', checkpoint({ key: 'posts', args: { [RETRY_LOG_ARG]: 'given by hand' } }))).toBe('posts')
  })
})
