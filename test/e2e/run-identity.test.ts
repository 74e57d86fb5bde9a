// What a handler is told of its run (ctx.run, ctx.seq, ctx.seqs, teardown's ctx), in-process
// over real WebSockets: the run's key and identity (the same for every master that resumes
// it, new after --reset), the master incarnation, how far the finished jobs are durable, and
// whether the run completed. What taskmaster-run/pg's exactlyOnce keys and compacts its claims by.
import { describe, expect, it } from 'vitest'
import type { BatchContext, HandlerContext, MasterOptions, SlaveOptions, TeardownContext } from '../../src/index.js'
import { tempDir } from '../helpers/proc.js'
import { listeningMaster, runningSlave, stoppedAfterEach } from '../helpers/peers.js'
import { until } from '../helpers/reliability.js'

const running = stoppedAfterEach()

function range(n: number): MasterOptions['source'] {
  return {
    *getJobs(last) {
      for (let id = last === undefined ? 0 : Number(last) + 1; id < n; id++) yield { id }
    },
  }
}

/** Starts a master; resolves once it listens. */
function master(options: Partial<MasterOptions> & Pick<MasterOptions, 'source' | 'stateDir'>) {
  return listeningMaster(running, { key: 'identity', port: 0, checkpointInterval: 0.05, ...options })
}

const slave = (options: SlaveOptions): ReturnType<typeof runningSlave> => runningSlave(running, options)

/** What a handler saw of its run, copied (ctx.run's fields change under it). */
interface Seen {
  key: string | undefined
  id: string | undefined
  incarnation: string
  durable: number
  seqs: readonly number[]
}

const copy = (ctx: BatchContext | HandlerContext, seqs: readonly number[]): Seen => ({ ...ctx.run, seqs: [...seqs] })

describe("a handler's ctx.run", () => {
  it('says the key and identity of the run, the same after a master restart (a new incarnation), and how far its jobs are durable', async () => {
    const stateDir = tempDir()
    const seen: Seen[] = []
    /** ctx.run itself: a live view, read while a call waits. */
    let live: BatchContext['run'] | undefined
    let release!: () => void
    const hold = new Promise<void>((resolve) => (release = resolve))
    const first = await master({ source: range(400), stateDir, batchSize: 10 })
    slave({
      host: first.address.hostPort,
      concurrency: 1,
      batch: 10,
      reconnect: 0,
      batchHandler: async (jobs: { id: number }[], ctx: BatchContext) => {
        seen.push(copy(ctx, ctx.seqs))
        live = ctx.run
        // The jobs from 200 on wait for the next master.
        if (jobs[0].id >= 200) await hold
      },
    })
    await until('job 200 to start', () => seen.some((s) => s.seqs.includes(200)), 20_000)
    // Jobs up to 199 are done: the master says so once its checkpoint holds them.
    await until('the first master to say jobs are durable', () => live!.durable === 200, 20_000)
    const before = { ...seen.at(-1)!, durable: live!.durable }
    expect(before.key).toBe('identity')
    expect(before.id).toMatch(/^[0-9a-f]{16}$/)
    expect(before.incarnation).toMatch(/^[0-9a-f]{12}$/)
    // Durable only below what was finished: never ahead of a running job.
    expect(before.seqs).toEqual(Array.from({ length: 10 }, (_, i) => 200 + i))
    // The master stops at once (a second stop): the next one resumes the run.
    first.master.stop()
    first.master.stop()
    await first.done
    release()
    const second = await master({ source: range(400), stateDir, batchSize: 10, port: first.address.port })
    expect(await second.done).toMatchObject({ outcome: 'complete' })
    const after = seen.at(-1)!
    expect(after.id).toBe(before.id)
    expect(after.key).toBe('identity')
    expect(after.incarnation).not.toBe(before.incarnation)
    // The seqs of a resumed run go on from where it resumed.
    expect(after.seqs.at(-1)).toBe(399)
  })

  it('is new after --reset; teardown is told the run is complete (and not on a stop); handleJob gets ctx.seq', async () => {
    const stateDir = tempDir()
    const identities: (string | undefined)[] = []
    const teardowns: { complete: boolean; id: string | undefined }[] = []
    const seqs: number[] = []
    const options = (hostPort: string): SlaveOptions => ({
      host: hostPort,
      handler: (_job: unknown, ctx: HandlerContext) => {
        identities.push(ctx.run.id)
        seqs.push(ctx.seq)
      },
      teardown: (_state: unknown, ctx: TeardownContext) => void teardowns.push({ complete: ctx.complete, id: ctx.run.id }),
    })
    const a = await master({ source: range(5), stateDir })
    const one = slave(options(a.address.hostPort))
    expect(await a.done).toMatchObject({ outcome: 'complete' })
    await one.done
    const b = await master({ source: range(5), stateDir, reset: true })
    const two = slave(options(b.address.hostPort))
    expect(await b.done).toMatchObject({ outcome: 'complete' })
    await two.done
    expect(new Set(identities.slice(0, 5)).size).toBe(1)
    expect(new Set(identities.slice(5)).size).toBe(1)
    expect(identities[5]).not.toBe(identities[0])
    expect(seqs.sort((x, y) => x - y)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    expect(teardowns).toEqual([
      { complete: true, id: identities[0] },
      { complete: true, id: identities[5] },
    ])
    // A slave stopped before its run completes is torn down with complete false.
    const c = await master({ source: range(1_000_000), stateDir, key: 'stopped' })
    const three = slave({ ...options(c.address.hostPort), handler: (_job: unknown, ctx: HandlerContext) => void seqs.push(ctx.seq) })
    await until('a job to run', () => seqs.length > 10 || teardowns.length > 2)
    three.slave.stop()
    await three.done
    expect(teardowns[2]).toMatchObject({ complete: false })
  })
})
