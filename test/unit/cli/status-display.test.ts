import { describe, expect, it } from 'vitest'
import { statusFields, statusLine } from '../../../src/cli/status-display.js'
import type { MasterStatus } from '../../../src/master/master.js'

const status: MasterStatus = {
  key: 'demo',
  current: 30421,
  position: 30000,
  done: 30210,
  failed: 2,
  inFlight: 211,
  queued: 10000,
  waiting: 0,
  slaves: 3,
  slaveCpu: 1.854,
  slaveRss: 210 * 1048576,
  total: undefined,
  elapsedMs: 40_500,
}

describe('statusLine', () => {
  it('reads like the original Taskmaster, then the counts and the slaves’ resource use', () => {
    expect(statusLine(statusFields(status, 991.06))).toBe(
      'Current Job: 30421 | Rate:   991.06/s | Elapsed Time: 0:00:40 | done 30210 | in flight 211 | queued 10000 | failed 2 | slaves 3 (cpu 1.85, 210 MB)',
    )
  })

  it('shows a dash before the first job and no usage without slaves', () => {
    expect(statusLine(statusFields({ ...status, current: undefined, slaves: 0 }, 0))).toBe(
      'Current Job: - | Rate:     0.00/s | Elapsed Time: 0:00:40 | done 30210 | in flight 211 | queued 10000 | failed 2 | slaves 0',
    )
  })
})
