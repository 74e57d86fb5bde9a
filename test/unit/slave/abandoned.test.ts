import { describe, expect, it } from 'vitest'
import { abandonedLimit } from '../../../src/slave/abandoned.js'

describe('abandonedLimit', () => {
  it('is the concurrency, and at least 8', () => {
    expect([abandonedLimit(1), abandonedLimit(8), abandonedLimit(16)]).toEqual([8, 8, 16])
  })

  it('with a batch handler, adds for each lane the hung calls left by isolating one job that hangs a batch', () => {
    // A batch of 50 is halved 6 times down to one job; of 1,000, 10 times.
    expect([abandonedLimit(1, 50), abandonedLimit(4, 1000), abandonedLimit(16, 2)]).toEqual([14, 48, 32])
  })
})
