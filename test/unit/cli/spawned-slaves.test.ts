import { describe, expect, it } from 'vitest'
import { SpawnedSlaves, earlySlaves } from '../../../src/cli/spawned-slaves.js'
import type { MasterCliOptions } from '../../../src/cli/master-options.js'
import type { LocalSlaves, LocalSlavesOptions } from '../../../src/slave/local-slaves.js'

/** SpawnedSlaves over a stand-in for LocalSlaves: what it was made with, and what it was told. */
function spawned(cli: Partial<MasterCliOptions> = {}): { slaves: SpawnedSlaves; options: LocalSlavesOptions; calls: string[] } {
  const calls: string[] = []
  let options: LocalSlavesOptions | undefined
  const slaves = new SpawnedSlaves({ ...cli, spawn: 2, handler: 'h.ts' } as MasterCliOptions & { spawn: number; handler: string }, (o) => {
    options = o
    return {
      start: (upTo?: number) => calls.push(`start ${upTo ?? 'all'}`),
      listening: (host: string, token?: string) => calls.push(`listening ${host} ${token}`),
      stop: () => {
        calls.push('stop')
        return Promise.resolve(0)
      },
    } as unknown as LocalSlaves
  })
  return { slaves, options: options!, calls }
}

describe('the local slaves of tm-master --spawn', () => {
  it('wait for their master: --spawn and --handler, the slave options as flags, no address yet', () => {
    const { options } = spawned({ concurrency: 4 } as unknown as Partial<MasterCliOptions>)
    expect(options).toMatchObject({ count: 2, handler: 'h.ts', awaitMaster: true, args: ['--concurrency', '4'] })
    expect(options.host).toBeUndefined()
    expect(options.token).toBeUndefined()
  })

  it('hold their lines and fatal errors until the master shows its output, then pass them on as they come', () => {
    const { slaves, options } = spawned()
    options.log!('[slave 1] early')
    options.onFatal!('Local slave 1 could not start')
    expect(options.wanted!()).toBe(false)
    const shown: string[] = []
    slaves.show({ line: (text) => shown.push(`line ${text}`), fatal: (text) => shown.push(`fatal ${text}`), wanted: () => true })
    expect(shown).toEqual(['line [slave 1] early', 'fatal Local slave 1 could not start'])
    options.log!('[slave 2] later')
    expect(shown.at(-1)).toBe('line [slave 2] later')
    expect(options.wanted!()).toBe(true)
  })

  it('start as many as find a core the master leaves free, the others once its modules are loaded; then stop', async () => {
    const { slaves, calls } = spawned()
    slaves.startEarly(3)
    slaves.startRest()
    slaves.listening('ws://127.0.0.1:5050', 's3cret')
    expect(await slaves.stop()).toBe(0)
    expect(calls).toEqual(['start 1', 'start all', 'listening ws://127.0.0.1:5050 s3cret', 'start all', 'stop'])
  })

  it('start early none on 2 cores (a master starting takes more than one), and no more than there are', () => {
    expect([1, 2, 3, 4, 16].map((cores) => earlySlaves(2, cores))).toEqual([0, 0, 1, 2, 2])
    expect([1, 2, 3, 4, 16].map((cores) => earlySlaves(8, cores))).toEqual([0, 0, 1, 2, 8])
  })
})
