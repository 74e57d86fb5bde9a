import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ModuleError } from '../../src/errors.js'
import type { HandlerContext } from '../../src/options.js'
import { importModule, loadHandler, loadHandlerModule, loadJobSource, parseModuleSpec, pickFunction } from '../../src/module-loader.js'
import { cleanTempDirs, tempDir } from '../helpers/proc.js'
import { rejectionOf } from './support.js'

afterEach(cleanTempDirs)

/** Writes `source` as `name` in a fresh temp dir (or in `dir`); returns its path. */
function moduleFile(name: string, source: string, dir = tempDir()): string {
  const path = join(dir, name)
  writeFileSync(path, source)
  return path
}

/** Awaits `promise` and returns the ModuleError it rejects with. */
async function moduleError(promise: Promise<unknown>): Promise<ModuleError> {
  const error = await rejectionOf(promise, ModuleError)
  expect(error.code).toBe('TM_ERR_MODULE')
  expect(error.exitCode).toBe(2)
  return error
}

async function collect(iterable: Iterable<unknown> | AsyncIterable<unknown>): Promise<unknown[]> {
  const items: unknown[] = []
  for await (const item of iterable) items.push(item)
  return items
}

describe('parseModuleSpec', () => {
  it('splits path and export name', () => {
    expect(parseModuleSpec('handler.ts:handleJob')).toEqual({ path: 'handler.ts', exportName: 'handleJob' })
    expect(parseModuleSpec('./a:b/jobs.mjs:$gen_1')).toEqual({ path: './a:b/jobs.mjs', exportName: '$gen_1' })
  })

  it('keeps paths without a valid export name whole', () => {
    expect(parseModuleSpec('handler.ts')).toEqual({ path: 'handler.ts', exportName: undefined })
    expect(parseModuleSpec('C:\\work\\jobs.ts')).toEqual({ path: 'C:\\work\\jobs.ts', exportName: undefined })
    expect(parseModuleSpec('jobs.ts:')).toEqual({ path: 'jobs.ts:', exportName: undefined })
    expect(parseModuleSpec('jobs.ts:1abc')).toEqual({ path: 'jobs.ts:1abc', exportName: undefined })
    expect(parseModuleSpec(':name')).toEqual({ path: ':name', exportName: undefined })
  })
})

describe('importModule', () => {
  it('names the missing file and where it looked', async () => {
    const error = await moduleError(importModule('no/such/jobs.mjs'))
    expect(error.message).toBe(`Cannot find module 'no/such/jobs.mjs' (no file at ${resolve('no/such/jobs.mjs')})`)
    expect(error.modulePath).toBe('no/such/jobs.mjs')
  })

  it("loads the package's own modules by name (its exports), where no file of that name is", async () => {
    const table = await loadJobSource('taskmaster-run/pg/table')
    expect(Object.keys(table).sort()).toEqual(['check', 'getJobs', 'key', 'module', 'progress', 'throttle', 'total'])
    expect(table.module).toBe('taskmaster-run/pg/table')
    const sql = await loadHandlerModule('taskmaster-run/pg/sql')
    expect(sql).toMatchObject({
      module: 'taskmaster-run/pg/sql',
      batchHandler: expect.any(Function) as unknown,
      setup: expect.any(Function) as unknown,
    })
    const error = await moduleError(importModule('taskmaster-run/pg/tabel'))
    expect(error.message).toBe(
      `Cannot find module 'taskmaster-run/pg/tabel' (no file at ${resolve('taskmaster-run/pg/tabel')}, nor a package module of that name)`,
    )
    // A name that is a Node.js builtin is no module file.
    expect((await moduleError(importModule('fs'))).message).toBe(
      `Cannot find module 'fs' (no file at ${resolve('fs')}, nor a package module of that name)`,
    )
  })

  it('refuses a directory and other extensions', async () => {
    const dir = tempDir()
    expect((await moduleError(importModule(dir))).message).toBe(
      `Module '${dir}' is a directory; give the path of a .ts, .mts, .cts, .js, .mjs or .cjs file`,
    )
    const json = moduleFile('data.json', '{}', dir)
    expect((await moduleError(importModule(json))).message).toBe(`Module '${json}' must be a .ts, .mts, .cts, .js, .mjs or .cjs file`)
  })

  it('reports a module that throws or does not compile, first line only', async () => {
    const throws = moduleFile('throws.mjs', 'throw new Error("broken at load\\nsecond line")')
    expect((await moduleError(importModule(throws))).message).toBe(`Cannot load module '${throws}': broken at load`)
    const syntax = moduleFile('syntax.mjs', 'export const = 1')
    expect((await moduleError(importModule(syntax))).message).toContain(`Cannot load module '${syntax}': `)
  })
})

describe('loadJobSource', () => {
  it('loads getJobs, key and total from a .mjs module', async () => {
    const path = moduleFile(
      'jobs.mjs',
      'export function* getJobs(last) { yield { id: (last ?? 0) + 1 } }\nexport const key = (job) => job.id\nexport const total = 5\n',
    )
    const source = await loadJobSource(path)
    expect(await collect(source.getJobs(4, { position: 0, args: {} }))).toEqual([{ id: 5 }])
    expect(source.key!({ id: 3 })).toBe(3)
    expect(source.total).toBe(5)
  })

  it('falls back to the default export', async () => {
    const source = await loadJobSource(moduleFile('jobs.mjs', 'export default function* () { yield 1; yield 2 }\n'))
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual([1, 2])
    expect(source.key).toBeUndefined()
    expect(source.total).toBeUndefined()
  })

  it('prefers getJobs to the default export', async () => {
    const source = await loadJobSource(
      moduleFile('jobs.mjs', 'export function* getJobs() { yield "named" }\nexport default function* () { yield "default" }\n'),
    )
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual(['named'])
  })

  it('picks a named export', async () => {
    const path = moduleFile('jobs.mjs', 'export async function* posts() { yield "p" }\nexport function* getJobs() { yield "g" }\n')
    const source = await loadJobSource(`${path}:posts`)
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual(['p'])
  })

  it('loads a TypeScript module through tsx, with an async total', async () => {
    const path = moduleFile(
      'jobs.ts',
      'export function* getJobs(last?: number): Generator<{ id: number }> { yield { id: 1 } }\nexport const key = (job: { id: number }): number => job.id\nexport const total = async (): Promise<number> => 7\n',
    )
    const source = await loadJobSource(path)
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual([{ id: 1 }])
    expect(await (source.total as () => Promise<number>)()).toBe(7)
  })

  it('loads the default export of an .mts module', async () => {
    const source = await loadJobSource(moduleFile('jobs.mts', 'export default function* (): Generator<number> { yield 9 }\n'))
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual([9])
  })

  it('loads the default export of a .ts module in a "type": "module" package', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
    const source = await loadJobSource(moduleFile('jobs.ts', 'export default function* (): Generator<number> { yield 8 }\n', dir))
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual([8])
  })

  it('lists the exports a module has when the one asked for is missing', async () => {
    const path = moduleFile('jobs.mjs', 'export const a = 1\nexport function helper() {}\n')
    expect((await moduleError(loadJobSource(path))).message).toBe(
      `Module '${path}' has no export 'getJobs' or 'default'; its exports are: a, helper`,
    )
    expect((await moduleError(loadJobSource(`${path}:rows`))).message).toBe(
      `Module '${path}' has no export 'rows'; its exports are: a, helper`,
    )
    const empty = moduleFile('empty.mjs', '')
    expect((await moduleError(loadJobSource(empty))).message).toBe(
      `Module '${empty}' has no export 'getJobs' or 'default'; it has no exports`,
    )
  })

  it('refuses exports of the wrong type', async () => {
    const path = moduleFile('jobs.mjs', 'export const getJobs = [1, 2]\nexport const n = null\n')
    expect((await moduleError(loadJobSource(path))).message).toBe(
      `Export 'getJobs' of module '${path}' is an array; it must be a generator function (function* or async function*) or a function returning an iterable`,
    )
    expect((await moduleError(loadJobSource(`${path}:n`))).message).toContain(`Export 'n' of module '${path}' is null;`)
  })

  it('validates key and total', async () => {
    const badKey = moduleFile('k.mjs', 'export function* getJobs() {}\nexport const key = "id"\n')
    expect((await moduleError(loadJobSource(badKey))).message).toBe(
      `Export 'key' of module '${badKey}' is a string; it must be a function job => key`,
    )
    const badTotal = moduleFile('t.mjs', 'export function* getJobs() {}\nexport const total = "100"\n')
    expect((await moduleError(loadJobSource(badTotal))).message).toBe(
      `Export 'total' of module '${badTotal}' is a string; it must be a number or a function returning one (or { estimate: n } of one)`,
    )
    const objTotal = moduleFile('o.mjs', 'export function* getJobs() {}\nexport const total = { n: 1 }\n')
    expect((await moduleError(loadJobSource(objTotal))).message).toContain('is an object; it must be a number or a function returning one')
    const badProgress = moduleFile('p.mjs', 'export function* getJobs() {}\nexport const progress = 0.5\n')
    expect((await moduleError(loadJobSource(badProgress))).message).toBe(
      `Export 'progress' of module '${badProgress}' is a number; it must be a function (last, ctx) => fraction of the source's keys done`,
    )
  })

  it('loads an estimated total and a progress export', async () => {
    const source = await loadJobSource(
      moduleFile(
        'jobs.mjs',
        'export function* getJobs() {}\nexport const total = { estimate: 9 }\nexport const progress = (last) => last / 10\n',
      ),
    )
    expect(source.total).toEqual({ estimate: 9 })
    expect(await source.progress!(5, { args: {} })).toBe(0.5)
  })

  it('takes a source object as the default export: getJobs, key, total and progress in one export', async () => {
    const path = moduleFile(
      'jobs.mjs',
      'export default { *getJobs(last) { yield { n: (last ?? 0) + 1 } }, key: (job) => job.n, total: () => ({ estimate: 3 }), progress: () => 0.25 }\n',
    )
    const source = await loadJobSource(path)
    expect(await collect(source.getJobs(1, { position: 0, args: {} }))).toEqual([{ n: 2 }])
    expect(source.key!({ n: 7 })).toBe(7)
    expect(await (source.total as () => unknown)()).toEqual({ estimate: 3 })
    expect(await source.progress!(1, { args: {} })).toBe(0.25)
    expect(source.module).toBe(path)
  })

  it("takes a source object's own check and throttle, never a module's exports of those names (a throttle export is --throttle's)", async () => {
    const dir = tempDir()
    const own = await loadJobSource(
      moduleFile(
        'own.mjs',
        'export default { *getJobs() {}, check(ctx) { return ctx.args.ok }, throttle() { return this.name }, name: "lag" }\n',
        dir,
      ),
    )
    expect(own.check!({ args: { ok: 'yes' } })).toBe('yes')
    // Called as the object's methods.
    expect(own.throttle!({ args: {} })).toBe('lag')
    const exports = await loadJobSource(
      moduleFile('exports.mjs', 'export function* getJobs() {}\nexport const throttle = () => true\nexport const check = () => {}\n', dir),
    )
    expect(exports.throttle).toBeUndefined()
    expect(exports.check).toBeUndefined()
    const bad = moduleFile('bad.mjs', 'export default { *getJobs() {}, check: 1 }\n', dir)
    expect((await moduleError(loadJobSource(bad))).message).toBe(
      `'check' of export 'default' of module '${bad}' is a number; it must be a function ctx => void (sync or async), throwing to refuse the run`,
    )
  })

  it('calls a source object built as a class as its methods, and a named one picked by path:name', async () => {
    const path = moduleFile(
      'jobs.mjs',
      'class Rows { constructor(n) { this.n = n } *getJobs() { for (let i = 1; i <= this.n; i++) yield i } total() { return this.n } }\nexport const three = new Rows(3)\nexport const key = (job) => job * 10\n',
    )
    const source = await loadJobSource(`${path}:three`)
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual([1, 2, 3])
    expect(await (source.total as () => unknown)()).toBe(3)
    // What the object lacks, the module's exports give.
    expect(source.key!(2)).toBe(20)
  })

  it('loads a source object exported as default by a TypeScript module in a plain (CommonJS) directory', async () => {
    const source = await loadJobSource(
      moduleFile(
        'jobs.ts',
        'const rows = { getJobs: function* (): Generator<number> { yield 4 }, key: (job: number): number => -job }\nexport default rows\n',
      ),
    )
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual([4])
    expect(source.key!(4)).toBe(-4)
  })

  it('refuses a default export that is neither a generator function nor a source object, in one line', async () => {
    const dir = tempDir()
    const plain = moduleFile('plain.mjs', 'export default { rows: [1, 2] }\n', dir)
    expect((await moduleError(loadJobSource(plain))).message).toBe(
      `Export 'default' of module '${plain}' is an object; it must be a generator function (function* or async function*) or a function returning an iterable, or a job source (an object with getJobs, as pgTable() returns)`,
    )
    const named = moduleFile('named.mjs', 'export const users = 42\n', dir)
    expect((await moduleError(loadJobSource(`${named}:users`))).message).toContain(
      `Export 'users' of module '${named}' is a number; it must be a generator function`,
    )
    const badGetJobs = moduleFile('bad-get.mjs', 'export default { getJobs: [1] }\n', dir)
    expect((await moduleError(loadJobSource(badGetJobs))).message).toBe(
      `'getJobs' of export 'default' of module '${badGetJobs}' is an array; it must be a generator function (function* or async function*) or a function returning an iterable`,
    )
    const badMember = moduleFile('bad-key.mjs', 'export default { *getJobs() {}, key: "id" }\n', dir)
    expect((await moduleError(loadJobSource(badMember))).message).toBe(
      `'key' of export 'default' of module '${badMember}' is a string; it must be a function job => key`,
    )
  })

  it("says that reading getJobs of a source object threw, with the user's message, in one line", async () => {
    const path = moduleFile('getter.mjs', "export default { get getJobs() { throw new Error('getter boom\\nsecond line') } }\n")
    expect((await moduleError(loadJobSource(path))).message).toBe(
      `Reading 'getJobs' of export 'default' of module '${path}' threw: getter boom`,
    )
  })

  // Bug: tsx loads a .ts file outside a "type": "module" package as CommonJS, so the
  // namespace's `default` is the whole module.exports object ({ default: fn }). The
  // default-export fallback then fails with "Export 'default' ... is an object".
  it('falls back to the default export of a .ts module in a plain directory', async () => {
    const source = await loadJobSource(moduleFile('jobs.ts', 'export default function* (): Generator<number> { yield 1 }\n'))
    expect(await collect(source.getJobs(undefined, { position: 0, args: {} }))).toEqual([1])
  })

  // Same cause: the CommonJS wrapper adds a `default` export, so a .ts module without
  // getJobs gets a misleading "is an object" error instead of the list of its exports.
  it('lists the exports of a .ts module that lacks getJobs', async () => {
    const path = moduleFile('jobs.ts', 'export const a = 1\n')
    expect((await moduleError(loadJobSource(path))).message).toBe(
      `Module '${path}' has no export 'getJobs' or 'default'; its exports are: a`,
    )
  })
})

describe('loadHandler', () => {
  const ctx: HandlerContext = {
    attempt: 1,
    seq: 0,
    signal: new AbortController().signal,
    state: undefined,
    args: {},
    run: { key: 'k', id: undefined, incarnation: 'i', durable: 0 },
  }

  it('loads handleJob, then the default export, then a named export', async () => {
    const dir = tempDir()
    const both = moduleFile(
      'both.mjs',
      'export const handleJob = () => "handleJob"\nexport default () => "default"\nexport const other = async () => "other"\n',
      dir,
    )
    expect((await loadHandler(both))({}, ctx)).toBe('handleJob')
    expect(await (await loadHandler(`${both}:other`))({}, ctx)).toBe('other')
    const def = moduleFile('def.mjs', 'export default (job) => job * 2\n', dir)
    expect((await loadHandler(def))(21, ctx)).toBe(42)
  })

  it('loads a TypeScript handler by name', async () => {
    const path = moduleFile('handler.ts', 'export async function handleJob(job: { id: number }): Promise<number> { return job.id + 1 }\n')
    expect(await (await loadHandler(`${path}:handleJob`))({ id: 1 }, ctx)).toBe(2)
  })

  it('names what is missing or of the wrong type', async () => {
    const path = moduleFile('h.mjs', 'export const handleJob = 5\nexport const x = 1\n')
    expect((await moduleError(loadHandler(path))).message).toBe(
      `Export 'handleJob' of module '${path}' is a number; it must be a function job => void (sync or async)`,
    )
    expect((await moduleError(loadHandler(`${path}:run`))).message).toBe(
      `Module '${path}' has no export 'run'; its exports are: handleJob, x`,
    )
    expect((await moduleError(loadHandler(join(tempDir(), 'gone.mjs')))).message).toContain('gone.mjs')
  })
})

describe('pickFunction', () => {
  it('returns the first fallback that exists', () => {
    const fn = (): void => {}
    expect(pickFunction({ b: fn }, 'm', undefined, ['a', 'b'], 'x')).toEqual({ name: 'b', fn })
    expect(() => pickFunction({ 'module.exports': {}, __esModule: true }, 'm', undefined, ['a'], 'x')).toThrow(
      "Module 'm' has no export 'a'; it has no exports",
    )
  })
})
