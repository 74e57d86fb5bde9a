import { describe, expect, it } from 'vitest'
import { ClaimMemory } from '../../../src/pg/claim-memory.js'

describe('ClaimMemory', () => {
  it('a batch is due once the durable position of its incarnation is beyond its highest seq, not before', () => {
    const memory = new ClaimMemory()
    memory.runIs('run')
    memory.remember('a', 9, ['k0', 'k9'])
    memory.remember('a', 19, ['k10', 'k19'])
    memory.settle('a', 9)
    expect(memory.dueCount).toBe(0)
    memory.settle('a', 10)
    expect(memory.take(10)).toEqual(['k0', 'k9'])
    expect(memory.waiting).toBe(1)
    memory.settle('a', 20)
    expect(memory.take(10)).toEqual(['k10', 'k19'])
    expect(memory.waiting).toBe(0)
  })

  it("drops the batches of an incarnation that ended (another's numbering cannot place them), counting their keys", () => {
    const memory = new ClaimMemory()
    memory.runIs('run')
    memory.remember('a', 5, ['x', 'y'])
    memory.remember('b', 3, ['z'])
    memory.settle('b', 100)
    expect(memory.take(10)).toEqual(['z'])
    expect(memory.dropped).toBe(2)
    expect(memory.waiting).toBe(0)
  })

  it('takes at most n due keys at a time, and takes back those whose deletion did not commit', () => {
    const memory = new ClaimMemory()
    memory.runIs('run')
    memory.remember('a', 4, ['a', 'b', 'c', 'd', 'e'])
    memory.settle('a', 5)
    const first = memory.take(2)
    expect(first).toHaveLength(2)
    expect(memory.dueCount).toBe(3)
    memory.back(first)
    expect(memory.dueCount).toBe(5)
    expect(new Set([...memory.take(3), ...memory.take(3)])).toEqual(new Set(['a', 'b', 'c', 'd', 'e']))
    expect(memory.take(3)).toEqual([])
  })

  it('forgets everything of another run (its claims are that run to clear), and keeps it for the same run', () => {
    const memory = new ClaimMemory()
    memory.runIs('one')
    memory.remember('a', 1, ['p'])
    memory.remember('a', 9, ['q'])
    memory.settle('a', 2)
    memory.runIs('one')
    expect(memory.dueCount).toBe(1)
    expect(memory.waiting).toBe(1)
    memory.runIs('two')
    expect(memory.dueCount).toBe(0)
    expect(memory.waiting).toBe(0)
  })

  it('remembers nothing of a batch that claimed nothing', () => {
    const memory = new ClaimMemory()
    memory.remember('a', 3, [])
    expect(memory.waiting).toBe(0)
  })
})
