import { describe, expect, it } from 'vitest'
import type { PgClient } from '../../../../../src/master/state/pg/client.js'
import { PgStateStore } from '../../../../../src/master/state/pg/store.js'
import { checkpoint, journalRecord } from '../../../support.js'

/** A client whose statements wait until the test lets them through, one at a time, each answering that the lease held. */
class HeldClient implements PgClient {
  readonly statements: unknown[][] = []
  #waiting: (() => void)[] = []

  connect(): Promise<unknown> {
    return Promise.resolve()
  }

  query(_text: string, values: unknown[] = []): Promise<{ rows: Record<string, unknown>[] }> {
    this.statements.push(values)
    return new Promise((resolve) => this.#waiting.push(() => resolve({ rows: [{ held: 1 }] })))
  }

  /** Lets the oldest statement commit; resolves once the store saw it. */
  async commit(): Promise<void> {
    this.#waiting.shift()?.()
    await new Promise((resolve) => setImmediate(resolve))
  }

  end(): Promise<void> {
    return Promise.resolve()
  }

  on(): unknown {
    return this
  }
}

const noJournal = { position: 0, last: null, counts: undefined, seqs: [], keys: [] }

describe('PgStateStore: how far the finished jobs are durable', () => {
  it('starts where its rows stand, and moves only once a statement carrying a further position committed', async () => {
    const client = new HeldClient()
    const entries = { ...noJournal, position: 7, last: 6 }
    const store = new PgStateStore(client, 'run', 'db', checkpoint({ position: 5, last: 4 }), entries, {}, { fence: 1, ms: 60_000 })
    expect(store.durable()).toBe(7)
    store.journal(journalRecord({ position: 9, last: 8, done: 9 }))
    expect(store.durable()).toBe(7)
    // Queued while the first statement is in flight: written by the next.
    store.save(checkpoint({ position: 12, last: 11 }))
    let written = false
    const all = store.written().then(() => (written = true))
    await client.commit()
    expect(store.durable()).toBe(9)
    expect(written).toBe(false)
    await client.commit()
    expect(store.durable()).toBe(12)
    await all
    expect(written).toBe(true)
    expect(client.statements).toHaveLength(2)
    await store.close()
  })
})

describe('PgStateStore after its connection is lost', () => {
  it('closes with the error (its lease renewal kicked no write that never ends)', async () => {
    const client = new HeldClient()
    const failure: { error?: Error } = {}
    const store = new PgStateStore(client, 'run', 'db', undefined, noJournal, failure, { fence: 1, ms: 80 })
    failure.error = new Error('terminating connection due to administrator command')
    // The renewal timer (every eighth of the lease) fires meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 50))
    await expect(store.close()).rejects.toThrow('terminating connection due to administrator command')
    expect(client.statements).toEqual([])
  })
})
