import { existsSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ModuleError } from './errors.js'
import { describeThrown, read, typeName } from './user-code.js'
import type { BatchHandler, Handler, HandlerLifecycle, JobSource } from './options.js'

/** `path[:export]` split in two. */
export interface ModuleSpec {
  path: string
  exportName: string | undefined
}

const EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'])
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts'])
const KINDS = '.ts, .mts, .cts, .js, .mjs or .cjs'

/** Splits `handler.ts:handleJob` into path and export name. */
export function parseModuleSpec(spec: string): ModuleSpec {
  const colon = spec.lastIndexOf(':')
  if (colon > 0) {
    const name = spec.slice(colon + 1)
    if (/^[A-Za-z_$][\w$]*$/.test(name)) return { path: spec.slice(0, colon), exportName: name }
  }
  return { path: spec, exportName: undefined }
}

/**
 * Whether Node would run the TypeScript file at `path` as CommonJS: a `.cts` file, or a
 * `.ts` file whose nearest package.json does not say `"type": "module"` (a project made
 * by `npm init -y`).
 */
function isCommonJsTypeScript(path: string): boolean {
  const ext = extname(path)
  if (ext !== '.ts') return ext === '.cts'
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type !== 'module'
      } catch {
        return true
      }
    }
    if (dirname(dir) === dir) return true
  }
}

/** tsx's ESM hooks, registered in this process by the first ES module in TypeScript that needs them. */
let tsxHooks: Promise<void> | undefined

/**
 * Registers tsx's ESM hooks, once a process. Each registration starts a chain of hooks
 * that every later import passes through, and tsImport makes one per call in a namespace
 * of its own, where the modules a user's module imports load again (this package whole,
 * a hundred modules, for a jobs module that imports keyset()): that was most of a master's
 * start-up. Registered once and globally, the user's modules share the process's modules.
 */
function registerTsx(): Promise<void> {
  tsxHooks ??= import('tsx/esm/api').then(({ register }) => {
    register()
  })
  return tsxHooks
}

/**
 * Loads a TypeScript module through tsx. A CommonJS one goes through tsx's require hook:
 * tsImport would load it as a `data:` URL of compiled code with no source map, so a
 * handler's stack trace showed kilobytes of URL and positions in the compiled line
 * instead of `flaky.ts:3:31`. Both paths compile with inline source maps; stack traces
 * map through them once source maps are enabled.
 */
async function importTypeScript(absolute: string): Promise<Record<string, unknown>> {
  process.setSourceMapsEnabled(true)
  if (isCommonJsTypeScript(absolute)) {
    const { require: tsxRequire } = await import('tsx/cjs/api')
    return tsxRequire(absolute, import.meta.url) as Record<string, unknown>
  }
  await registerTsx()
  return (await import(pathToFileURL(absolute).href)) as Record<string, unknown>
}

/**
 * A package's module by name (`taskmaster-run/pg/table`, `@scope/pkg/handler`): not a
 * path (no leading `.` or `/`) and without a module's file extension.
 */
function isPackageName(path: string): boolean {
  return /^(?:@[\w.-]+\/)?\w[\w.-]*(?:\/[\w.-]+)*$/.test(path) && !EXTENSIONS.has(extname(path))
}

/**
 * The file of a module given by package name: this package's own (`taskmaster-run/pg/sql`,
 * by its `exports`) from this copy of it, so that a master and its built-in modules share
 * one copy whatever else is installed; any other from the current directory's project, as
 * its own imports would find it. Undefined when neither finds a file (a Node.js builtin is none).
 */
function packageModule(name: string): string | undefined {
  for (const from of [import.meta.url, join(process.cwd(), 'package.json')]) {
    try {
      const file = createRequire(from).resolve(name)
      if (isAbsolute(file)) return file
    } catch {
      // Not found from there.
    }
  }
  return undefined
}

/**
 * Loads a user module (TypeScript through tsx) given relative to the current directory, or
 * by package name when no such file exists (`taskmaster-run/pg/table`, see {@link packageModule}).
 */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  const file = resolve(path)
  const named = !existsSync(file) && isPackageName(path)
  const absolute = named ? (packageModule(path) ?? file) : file
  if (!existsSync(absolute))
    throw new ModuleError(`Cannot find module '${path}' (no file at ${file}${named ? ', nor a package module of that name' : ''})`, path)
  if (statSync(absolute).isDirectory()) throw new ModuleError(`Module '${path}' is a directory; give the path of a ${KINDS} file`, path)
  const ext = extname(absolute)
  if (!EXTENSIONS.has(ext)) throw new ModuleError(`Module '${path}' must be a ${KINDS} file`, path)
  try {
    const namespace = TYPESCRIPT.has(ext)
      ? await importTypeScript(absolute)
      : ((await import(pathToFileURL(absolute).href)) as Record<string, unknown>)
    return unwrapCommonJs(namespace)
  } catch (error) {
    const first = String((error as Error)?.message ?? error).split('\n')[0]
    throw new ModuleError(`Cannot load module '${path}': ${first}`, path)
  }
}

/**
 * A .ts file outside a `"type": "module"` package is compiled to CommonJS: its exports
 * arrive as the `default` of the namespace, marked `__esModule`. Use them as the exports.
 */
function unwrapCommonJs(namespace: Record<string, unknown>): Record<string, unknown> {
  const inner = namespace.default as Record<string, unknown> | undefined
  if (typeof inner === 'object' && inner !== null && inner.__esModule === true) return inner
  return namespace
}

function exportNames(module: Record<string, unknown>): string {
  const names = Object.keys(module).filter((n) => n !== '__esModule' && n !== 'module.exports')
  return names.length === 0 ? 'it has no exports' : `its exports are: ${names.join(', ')}`
}

/** The export `name`, or the first of `fallbacks` that exists. Errors name the module and the exports it has. */
function pickExport(
  module: Record<string, unknown>,
  path: string,
  name: string | undefined,
  fallbacks: string[],
): { name: string; value: unknown } {
  const candidates = name !== undefined ? [name] : fallbacks
  const found = candidates.find((c) => module[c] !== undefined)
  if (found === undefined) {
    const wanted = name !== undefined ? `no export '${name}'` : `no export ${fallbacks.map((f) => `'${f}'`).join(' or ')}`
    throw new ModuleError(`Module '${path}' has ${wanted}; ${exportNames(module)}`, path)
  }
  return { name: found, value: module[found] }
}

/**
 * Picks the function export `name`, or the first of `fallbacks` that exists. Errors
 * name the module and the exports it has.
 */
export function pickFunction<F extends (...args: never[]) => unknown = (...args: never[]) => unknown>(
  module: Record<string, unknown>,
  path: string,
  name: string | undefined,
  fallbacks: string[],
  what: string,
): { name: string; fn: F } {
  const { name: found, value } = pickExport(module, path, name, fallbacks)
  if (typeof value !== 'function') {
    throw new ModuleError(`Export '${found}' of module '${path}' is ${typeName(value)}; it must be ${what}`, path)
  }
  return { name: found, fn: value as F }
}

const GENERATOR = 'a generator function (function* or async function*) or a function returning an iterable'

/** A job source object (`export default pgTable(...)`): anything with a `getJobs` member. */
function isSourceObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && read(value, 'getJobs') !== undefined
}

/** Throws a ModuleError saying so when reading `getJobs` of `value` (a getter of the user's) throws. */
function checkGetJobsReads(value: unknown, what: string, path: string): void {
  if (typeof value !== 'object' || value === null) return
  try {
    void (value as Record<string, unknown>).getJobs
  } catch (error) {
    throw new ModuleError(`Reading 'getJobs' of ${what} threw: ${describeThrown(error)}`, path)
  }
}

/** What each optional member of a source must be, for its check and its message. */
const MEMBERS = {
  key: { ok: (v: unknown) => typeof v === 'function', what: 'a function job => key' },
  total: {
    ok: (v: unknown) =>
      typeof v === 'function' || typeof v === 'number' || (typeof v === 'object' && v !== null && read(v, 'estimate') !== undefined),
    what: 'a number or a function returning one (or { estimate: n } of one)',
  },
  progress: { ok: (v: unknown) => typeof v === 'function', what: "a function (last, ctx) => fraction of the source's keys done" },
  check: { ok: (v: unknown) => typeof v === 'function', what: 'a function ctx => void (sync or async), throwing to refuse the run' },
  throttle: { ok: (v: unknown) => typeof v === 'function', what: 'a function ctx => throttle check or undefined (sync or async)' },
} as const

/** Members a source object may have and a module's exports may stand in for: a module's `throttle` export is a `--throttle` check. */
const SHARED_MEMBERS = new Set(['key', 'total', 'progress'])

/**
 * Loads a jobs module. Its source is a generator (`getJobs`, then the default export, or
 * the export named) with the module's `key`, `total` and `progress` exports; or a source
 * object there (`export default pgTable(...)`, anything with `getJobs`), whose own `key`,
 * `total` and `progress` come first, the module's exports filling what it lacks, and whose
 * `check` and `throttle` are its own only.
 */
export async function loadJobSource(spec: string): Promise<JobSource> {
  const { path, exportName } = parseModuleSpec(spec)
  const module = await importModule(path)
  const picked = pickExport(module, path, exportName, ['getJobs', 'default'])
  checkGetJobsReads(picked.value, `export '${picked.name}' of module '${path}'`, path)
  const object = isSourceObject(picked.value) ? picked.value : undefined
  const getJobs = object === undefined ? picked.value : read(object, 'getJobs')
  if (typeof getJobs !== 'function') {
    // A source object is offered where one may stand: the default export or one named by path:name.
    const what =
      object !== undefined || picked.name === 'getJobs'
        ? GENERATOR
        : `${GENERATOR}, or a job source (an object with getJobs, as pgTable() returns)`
    const which = object === undefined ? `Export '${picked.name}'` : `'getJobs' of export '${picked.name}'`
    throw new ModuleError(`${which} of module '${path}' is ${typeName(getJobs)}; it must be ${what}`, path)
  }
  // Called as the object's methods: a source built as a class keeps its `this`.
  const own = (value: unknown): unknown =>
    object !== undefined && typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value
  const source: JobSource = { getJobs: own(getJobs) as JobSource['getJobs'], module: path }
  for (const name of ['key', 'total', 'progress', 'check', 'throttle'] as const) {
    const member = object === undefined ? undefined : read(object, name)
    const value = member ?? (SHARED_MEMBERS.has(name) ? module[name] : undefined)
    if (value === undefined) continue
    const which = member !== undefined ? `'${name}' of export '${picked.name}'` : `Export '${name}'`
    if (!MEMBERS[name].ok(value))
      throw new ModuleError(`${which} of module '${path}' is ${typeName(value)}; it must be ${MEMBERS[name].what}`, path)
    Object.assign(source, { [name]: member !== undefined ? own(value) : value })
  }
  return source
}

/** Loads a handler module: `handleJob`, then default, or the export named. */
export async function loadHandler(spec: string): Promise<Handler> {
  const { path, exportName } = parseModuleSpec(spec)
  const module = await importModule(path)
  return pickFunction<Handler>(module, path, exportName, ['handleJob', 'default'], 'a function job => void (sync or async)').fn
}

/** What a handler module gives a slave: one of its handlers and its optional lifecycle. */
export interface HandlerModule extends HandlerLifecycle {
  handler?: Handler
  batchHandler?: BatchHandler
  /** The module's file (see SlaveOptions.module). */
  module: string
}

/** An optional function export: undefined when absent, else it must be a function. */
function optionalFunction<F>(module: Record<string, unknown>, path: string, name: string, what: string): F | undefined {
  const value = module[name]
  if (value === undefined) return undefined
  if (typeof value !== 'function')
    throw new ModuleError(`Export '${name}' of module '${path}' is ${typeName(value)}; it must be ${what}`, path)
  return value as F
}

/**
 * Loads a handler module: `handleBatch` if it exports one (jobs are handed over in
 * batches), else `handleJob`, then default; `path:name` picks the export (named
 * `handleBatch`, it is a batch handler), and its optional `setup` and `teardown`.
 */
export async function loadHandlerModule(spec: string): Promise<HandlerModule> {
  const { path, exportName } = parseModuleSpec(spec)
  const module = await importModule(path)
  const loaded: HandlerModule = {
    module: path,
    setup: optionalFunction(module, path, 'setup', 'a function ctx => state (sync or async)'),
    teardown: optionalFunction(module, path, 'teardown', 'a function state => void (sync or async)'),
  }
  const batch = exportName === 'handleBatch' || (exportName === undefined && module.handleBatch !== undefined)
  if (batch)
    loaded.batchHandler = pickFunction<BatchHandler>(
      module,
      path,
      'handleBatch',
      [],
      'a function (jobs, ctx) => void or failed jobs (sync or async)',
    ).fn
  else
    loaded.handler = pickFunction<Handler>(module, path, exportName, ['handleJob', 'default'], 'a function job => void (sync or async)').fn
  return loaded
}
