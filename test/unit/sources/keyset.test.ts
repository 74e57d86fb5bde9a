import { describe, expect, it } from 'vitest'
import { JobSourceError, OptionError } from '../../../src/errors.js'
import type { JobKey } from '../../../src/options.js'
import { keyset } from '../../../src/sources/keyset.js'

const ctx = { position: 0, args: {} }

/** A sorted table and a fetchPage over it that records every call, like `WHERE id > $1 ORDER BY id LIMIT $2`. */
function table<Id extends number | bigint>(ids: Id[]) {
  const calls: { after: unknown; limit: number }[] = []
  const fetchPage = (after: JobKey | undefined, limit: number) => {
    calls.push({ after, limit })
    return ids
      .filter((id) => after === undefined || id > (after as Id))
      .slice(0, limit)
      .map((id) => ({ id, name: `row ${id}` }))
  }
  return { fetchPage, calls }
}

async function collect<T>(iterable: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const job of iterable) out.push(job)
  return out
}

describe('keyset', () => {
  const ids = Array.from({ length: 23 }, (_, i) => i * 3 + 1) // 1, 4, ..., 67: gaps between keys

  it('yields every row once, page by page, each page strictly after the last key of the one before', async () => {
    const { fetchPage, calls } = table(ids)
    const source = keyset({ fetchPage, pageSize: 5 })
    const rows = await collect(source.getJobs(undefined, ctx))
    expect(rows.map((row) => row.id)).toEqual(ids)
    expect(calls).toEqual([
      { after: undefined, limit: 5 },
      { after: 13, limit: 5 },
      { after: 28, limit: 5 },
      { after: 43, limit: 5 },
      { after: 58, limit: 5 },
      { after: 67, limit: 5 },
    ])
    expect(source.key(rows[3])).toBe(10)
  })

  it('resumes strictly after `last` at every boundary: page edges, inside pages, the last row', async () => {
    for (const pageSize of [1, 4, 5, 23, 1000]) {
      for (let done = 0; done <= ids.length; done++) {
        const { fetchPage } = table(ids)
        const last = done === 0 ? undefined : ids[done - 1]
        const rows = await collect(keyset({ fetchPage, pageSize }).getJobs(last, ctx))
        expect(
          rows.map((row) => row.id),
          `pageSize ${pageSize}, last ${last}`,
        ).toEqual(ids.slice(done))
      }
    }
  })

  it('an empty source yields nothing after one query', async () => {
    const { fetchPage, calls } = table([])
    expect(await collect(keyset({ fetchPage }).getJobs(undefined, ctx))).toEqual([])
    expect(calls).toEqual([{ after: undefined, limit: 1000 }])
  })

  it('accepts an async fetchPage and a key function', async () => {
    const rows = [{ uid: 'a' }, { uid: 'b' }, { uid: 'c' }]
    const source = keyset({
      fetchPage: (after, limit) =>
        Promise.resolve(rows.filter((row) => after === undefined || row.uid > (after as string)).slice(0, limit)),
      key: (row) => row.uid,
      pageSize: 2,
    })
    expect((await collect(source.getJobs('a', ctx))).map((row) => row.uid)).toEqual(['b', 'c'])
    expect(source.key(rows[0])).toBe('a')
  })

  it("keyType 'bigint': ids that pg returns as strings resume numerically, not lexicographically", async () => {
    // int8 columns arrive as strings; as strings '10' < '9' and a JS filter would go wrong.
    const pgRows = ['8', '9', '10', '11', '100'].map((id) => ({ id }))
    const calls: unknown[] = []
    const source = keyset({
      fetchPage: (after, limit) => {
        calls.push(after)
        return pgRows.filter((row) => after === undefined || BigInt(row.id) > (after as bigint)).slice(0, limit)
      },
      keyType: 'bigint',
      pageSize: 2,
    })
    expect((await collect(source.getJobs(undefined, ctx))).map((row) => row.id)).toEqual(['8', '9', '10', '11', '100'])
    expect(calls).toEqual([undefined, 9n, 11n, 100n])
    expect(source.key(pgRows[2])).toBe(10n)
    // `last` comes back from the checkpoint as a bigint, or as a string from an older run: both resume after it.
    expect((await collect(source.getJobs(9n, ctx))).map((row) => row.id)).toEqual(['10', '11', '100'])
    expect((await collect(source.getJobs('10', ctx))).map((row) => row.id)).toEqual(['11', '100'])
  })

  it("keyType 'number' and 'string' convert keys and `last`", async () => {
    const numbers = keyset<{ id: string }>({ fetchPage: () => [], keyType: 'number' })
    expect(numbers.key({ id: '42' })).toBe(42)
    const strings = keyset({ fetchPage: (after) => (after === undefined ? [{ id: 7 }] : []), keyType: 'string' })
    expect(strings.key({ id: 7 })).toBe('7')
    expect(await collect(strings.getJobs(undefined, ctx))).toEqual([{ id: 7 }])
  })

  it('bigint keys beyond 2^53 keep every digit', async () => {
    const base = 2n ** 53n
    const bigIds = [base - 1n, base, base + 1n, base + 2n, base + 3n]
    const { fetchPage, calls } = table(bigIds)
    const source = keyset({ fetchPage, pageSize: 2 })
    expect((await collect(source.getJobs(base, ctx))).map((row) => row.id)).toEqual([base + 1n, base + 2n, base + 3n])
    expect(calls.map((call) => call.after)).toEqual([base, base + 2n, base + 3n])
  })

  it('refuses a page that does not go strictly forward (a fetchPage that ignores `after` would loop forever)', async () => {
    const source = keyset({ fetchPage: () => [{ id: 1 }, { id: 2 }], pageSize: 2 })
    await expect(collect(source.getJobs(undefined, ctx))).rejects.toThrow(
      new JobSourceError(
        'keyset: fetchPage returned key 1 after key 2; a page must hold keys strictly greater than `after`, in ascending order (ORDER BY the key)',
      ),
    )
    const unsorted = keyset({ fetchPage: (after) => (after === undefined ? [{ id: 3 }, { id: 2 }] : []) })
    await expect(collect(unsorted.getJobs(undefined, ctx))).rejects.toThrow('keyset: fetchPage returned key 2 after key 3;')
  })

  it('refuses a row without a usable key and a bad pageSize, naming them', async () => {
    const source = keyset({ fetchPage: () => [{ name: 'x' }] })
    await expect(collect(source.getJobs(undefined, ctx))).rejects.toThrow(
      new JobSourceError('keyset: a row has no usable key (got undefined); give keyset a key(row) function or select the id column'),
    )
    expect(() => keyset({ fetchPage: () => [], pageSize: 0 })).toThrow(
      new OptionError('keyset: pageSize must be an integer >= 1, got 0', 'pageSize'),
    )
    expect(() => keyset({ fetchPage: undefined as never })).toThrow(
      new OptionError('keyset: fetchPage must be a function (after, limit) => rows', 'fetchPage'),
    )
  })

  it('passes total through', () => {
    expect(keyset({ fetchPage: () => [], total: 10 }).total).toBe(10)
    expect(keyset({ fetchPage: () => [] }).total).toBeUndefined()
  })

  it('shards by shardKey(row) when given (a composite key by its first column), else by the key', async () => {
    const rows = [
      { tenant: 1, id: 9 },
      { tenant: 2, id: 9 },
      { tenant: 3, id: 1 },
      { tenant: 4, id: 2 },
    ]
    const fetchPage = (after: JobKey | undefined) =>
      rows.filter((row) => after === undefined || JSON.stringify([row.tenant, row.id]) > (after as string))
    const source = keyset({ fetchPage, key: (row) => JSON.stringify([row.tenant, row.id]), shardKey: (row) => row.tenant, pageSize: 10 })
    expect(await collect(source.getJobs(undefined, { ...ctx, shard: { index: 1, count: 2 } }))).toEqual([rows[1], rows[3]])
    expect(await collect(source.getJobs(undefined, { ...ctx, shard: { index: 2, count: 2 } }))).toEqual([rows[0], rows[2]])
    // Without shardKey the string key cannot be sharded.
    const unsharded = keyset({ fetchPage, key: (row) => JSON.stringify([row.tenant, row.id]), pageSize: 10 })
    await expect(collect(unsharded.getJobs(undefined, { ...ctx, shard: { index: 1, count: 2 } }))).rejects.toThrow(
      /^keyset: a sharded run \(--shard\) needs integer keys/,
    )
    const texts = keyset({
      fetchPage,
      key: (row) => JSON.stringify([row.tenant, row.id]),
      shardKey: (row) => `t${row.tenant}`,
      pageSize: 10,
    })
    await expect(collect(texts.getJobs(undefined, { ...ctx, shard: { index: 1, count: 2 } }))).rejects.toThrow('got key "t1"')
  })

  it('calls close once when the generator ends, fails or is stopped, and a failing close hides nothing', async () => {
    let closed = 0
    const close = (): void => void closed++
    await collect(keyset({ ...table(ids), close }).getJobs(undefined, ctx))
    expect(closed).toBe(1)
    const failing = keyset({ fetchPage: () => Promise.reject(new Error('connection lost')), close })
    await expect(collect(failing.getJobs(undefined, ctx))).rejects.toThrow('connection lost')
    expect(closed).toBe(2)
    // Stopped after the first row (the master's Source calls return()).
    const generator = keyset({ ...table(ids), close }).getJobs(undefined, ctx)
    await generator.next()
    await generator.return(undefined)
    expect(closed).toBe(3)
    const noisy = keyset({ ...table(ids), close: () => Promise.reject(new Error('end failed')) })
    expect(await collect(noisy.getJobs(undefined, ctx))).toHaveLength(ids.length)
  })

  it("hands the same rows a page at a time (the master reads them so), a shard's rows only, and ends with undefined", async () => {
    const { fetchPage } = table(ids)
    const generator = keyset({ fetchPage, pageSize: 10 }).getJobs(4, ctx)
    const pages: (readonly { id: number }[] | undefined)[] = []
    for (let page = await generator.nextPage(); page !== undefined; page = await generator.nextPage()) pages.push(page)
    expect(pages.map((page) => page!.length)).toEqual([10, 10, 1])
    expect(pages.flat()).toEqual(await collect(keyset({ fetchPage, pageSize: 10 }).getJobs(4, ctx)))
    expect(await generator.nextPage()).toBeUndefined()
    // Shard 2 of 2: the odd keys (1, 7, 13...) of each page of 4.
    const sharded = keyset({ fetchPage, pageSize: 4 }).getJobs(undefined, { ...ctx, shard: { index: 2, count: 2 } })
    expect((await sharded.nextPage())!.map((row) => row.id)).toEqual([1, 7])
    await expect(
      keyset({ fetchPage: () => [{ id: 2 }, { id: 1 }] })
        .getJobs(undefined, ctx)
        .nextPage(),
    ).rejects.toThrow('keyset: fetchPage returned key 1 after key 2;')
  })

  it('read by pages, return() closes it: before the first page, after one, at the end', async () => {
    let closed = 0
    const close = (): void => void closed++
    const first = keyset({ ...table(ids), close }).getJobs(undefined, ctx)
    await first.nextPage()
    await first.return(undefined)
    expect(closed).toBe(1)
    expect(await first.nextPage()).toBeUndefined()
    await keyset({ ...table(ids), close })
      .getJobs(undefined, ctx)
      .return(undefined)
    // Never started: there was nothing to close.
    expect(closed).toBe(1)
    const all = keyset({ ...table(ids), close, pageSize: 100 }).getJobs(undefined, ctx)
    while ((await all.nextPage()) !== undefined);
    expect(closed).toBe(2)
  })
})
