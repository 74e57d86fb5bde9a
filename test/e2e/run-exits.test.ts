import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { ListenError, Slave, StateFileError } from '../../src/index.js'
import type { Checkpoint } from '../../src/master/state/checkpoint.js'
import type { JournalRecord } from '../../src/master/state/file/journal.js'
import type { RunParts } from '../../src/master/engine/run.js'
import { openRun } from '../../src/master/engine/run.js'
import { RunStore } from '../../src/master/state/file/run-store.js'
import { Server } from '../../src/master/engine/server.js'
import type { MasterEvents, RunSummary } from '../../src/master/engine/types.js'
import { resolveMasterOptions } from '../../src/options.js'
import type { MasterOptions } from '../../src/options.js'
import { cleanTempDirs, tempDir } from '../helpers/proc.js'

// Every way out of a run settles run(): with the summary, or with the first error met on
// the way out (journal, checkpoint, server close), and the lock is released either way.
// The run's parts are real (files in a temp dir, a WebSocket server on 127.0.0.1, an
// in-process slave); the store and the server are subclasses that fail on purpose.

const slaves: Slave[] = []
afterEach(() => {
  for (const s of slaves.splice(0)) {
    s.stop()
    s.stop()
  }
  cleanTempDirs()
})

const N = 50

function options(stateDir: string, extra: Partial<MasterOptions> = {}): ReturnType<typeof resolveMasterOptions> {
  return resolveMasterOptions({
    source: {
      *getJobs() {
        for (let id = 0; id < N; id++) yield { id }
      },
    },
    key: 'exits',
    stateDir,
    port: 0,
    ...extra,
  })
}

/** A file store that can be told to fail, and records whether it was closed. */
class FailingStore extends RunStore {
  failSave: ((checkpoint: Checkpoint) => boolean) | undefined
  failJournal: (() => boolean) | undefined
  closed = false
  finalSaved = false

  override save(checkpoint: Checkpoint): string | undefined {
    if (this.failSave?.(checkpoint)) throw new StateFileError('save failed on purpose', this.paths.checkpoint)
    const warning = super.save(checkpoint)
    if (checkpoint.complete) this.finalSaved = true
    return warning
  }

  override journal(record: JournalRecord): void {
    if (this.failJournal?.()) throw new StateFileError('journal failed on purpose', this.paths.journal)
    super.journal(record)
  }

  override close(complete?: boolean): Promise<void> {
    this.closed = true
    return super.close(complete)
  }
}

/** Parts for a run: the failing store, and a server that may fail to close or to listen. */
function parts(store: FailingStore, server: { failClose?: boolean; failListen?: boolean } = {}): RunParts {
  return {
    store: () => store,
    server: (o, handler) =>
      new (class extends Server {
        override async close(...args: Parameters<Server['close']>): Promise<void> {
          await super.close(...args)
          if (server.failClose) throw new Error('server close failed on purpose')
        }
        override listen(host: string, port: number): ReturnType<Server['listen']> {
          if (server.failListen) return Promise.reject(new ListenError('listen failed on purpose', `${host}:${port}`))
          return super.listen(host, port)
        }
      })(o, handler),
  }
}

/** Opens and starts a run with `parts`, and a slave that runs every job; resolves with run()'s outcome. */
async function runWith(store: FailingStore, p: RunParts, dir: string): Promise<{ outcome: PromiseSettledResult<RunSummary> }> {
  const events = new EventEmitter<MasterEvents>()
  events.on('listening', (address) => {
    const slave = new Slave({ host: address.hostPort, handler: () => {}, concurrency: 4, reconnect: 5 })
    slaves.push(slave)
    slave.run().catch(() => {})
  })
  const opened = await openRun(options(dir), { token: undefined, events, parts: p })
  if (opened.kind !== 'run') throw new Error(`expected a run, got ${opened.kind}`)
  const [outcome] = await Promise.allSettled([opened.run.start()])
  return { outcome }
}

function storeIn(dir: string): FailingStore {
  const o = options(dir)
  return new FailingStore(o.stateDir, o.key)
}

describe('a run', () => {
  it('resolves with the summary when every job is done, and releases its lock', async () => {
    const dir = tempDir()
    const store = storeIn(dir)
    const { outcome } = await runWith(store, parts(store), dir)
    expect(outcome).toMatchObject({ status: 'fulfilled', value: { outcome: 'complete', jobs: N, done: N, failed: 0 } })
    expect(store.closed).toBe(true)
    expect(existsSync(store.paths.lock)).toBe(false)
  })

  it('rejects when the final checkpoint cannot be written, and still releases its lock', async () => {
    const dir = tempDir()
    const store = storeIn(dir)
    store.failSave = (checkpoint) => checkpoint.complete
    const { outcome } = await runWith(store, parts(store), dir)
    expect(outcome.status).toBe('rejected')
    expect((outcome as PromiseRejectedResult).reason).toMatchObject({ message: 'save failed on purpose' })
    expect(store.closed).toBe(true)
    expect(existsSync(store.paths.lock)).toBe(false)
  })

  it('rejects when the journal cannot be written on the way out (the last acks, after the final checkpoint)', async () => {
    const dir = tempDir()
    const store = storeIn(dir)
    store.failJournal = () => store.finalSaved
    const { outcome } = await runWith(store, parts(store), dir)
    expect(outcome.status).toBe('rejected')
    expect((outcome as PromiseRejectedResult).reason).toMatchObject({ message: 'journal failed on purpose' })
    expect(store.closed).toBe(true)
  })

  it('rejects when the journal cannot be written during the run, after stopping gracefully', async () => {
    const dir = tempDir()
    const store = storeIn(dir)
    store.failJournal = () => true
    const { outcome } = await runWith(store, parts(store), dir)
    expect(outcome.status).toBe('rejected')
    expect((outcome as PromiseRejectedResult).reason).toMatchObject({ message: 'journal failed on purpose' })
    expect(store.closed).toBe(true)
    expect(existsSync(store.paths.lock)).toBe(false)
  })

  it('rejects when the server cannot close, after writing the final checkpoint', async () => {
    const dir = tempDir()
    const store = storeIn(dir)
    const { outcome } = await runWith(store, parts(store, { failClose: true }), dir)
    expect(outcome.status).toBe('rejected')
    expect((outcome as PromiseRejectedResult).reason).toMatchObject({ message: 'server close failed on purpose' })
    expect(store.finalSaved).toBe(true)
    expect(store.closed).toBe(true)
  })

  it('rejects when it cannot listen, and releases its lock', async () => {
    const dir = tempDir()
    const store = storeIn(dir)
    const { outcome } = await runWith(store, parts(store, { failListen: true }), dir)
    expect(outcome.status).toBe('rejected')
    expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(ListenError)
    expect(store.closed).toBe(true)
    expect(existsSync(store.paths.lock)).toBe(false)
  })
})
