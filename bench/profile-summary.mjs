#!/usr/bin/env node
// Where a profiled process spent its time: the top functions by self time, and the same
// time by where the code lives (Taskmaster's own files, pg, msgpackr, ws, Node, garbage
// collection), from the .cpuprofile files of V8's sampling profiler (those
// bench/fixtures/cpu-at-exit.mjs writes, or node --cpu-prof's). Shares are of the busy
// samples (idle left out).
// Samples are taken on a clock, not on CPU: a process the kernel has set aside is charged
// to the call it was in (a write that woke another process, an fsync), which on a loaded
// machine makes such calls look costlier than the CPU they take.
//   node bench/profile-summary.mjs <file.cpuprofile | dir> [--top 15] [--from seconds | work]
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'

/** Where a frame's code lives, from its URL. */
export function areaOf(url, name) {
  if (name === '(garbage collector)') return 'garbage collection'
  if (name === '(program)') return 'V8 and native code (program)'
  if (url === '') return 'V8 and native code (program)'
  if (url.includes('/node_modules/pg') || url.includes('/node_modules/pg-')) return 'pg (the client)'
  if (url.includes('/node_modules/msgpackr')) return 'msgpackr'
  if (url.includes('/node_modules/ws/')) return 'ws'
  if (url.includes('/node_modules/tsx/') || url.includes('/node_modules/esbuild')) return 'tsx (loading TypeScript)'
  if (url.includes('/node_modules/')) return 'other packages'
  if (url.startsWith('node:')) return 'Node'
  if (url.includes('/dist/') || url.includes('/src/')) return 'Taskmaster'
  return 'user modules (jobs, handler)'
}

/** Where a process's work starts: its first job dispatched (a master) or run (a slave). */
const WORK = /\/(master\/engine\/dispatcher|slave\/runner)\.js$/

/**
 * Self time per function and per area of one profile, in ms, busy samples only. `from`
 * leaves out the start: a number, the samples of the first that many seconds; 'work', those
 * before the first sample in Taskmaster's dispatcher or runner (its modules loading, its
 * connection); 0, none.
 */
export function summarize(profile, from = 0) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const working = (id) => {
    for (let at = id; at !== undefined; at = parent.get(at)) if (WORK.test(byId.get(at).callFrame.url)) return true
    return false
  }
  const self = new Map()
  const dt = profile.timeDeltas
  let busy = 0
  let idle = 0
  let skipped = 0
  let started = from === 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const ms = (dt[i] ?? 0) / 1000
    if (!started) started = from === 'work' ? working(node.id) : skipped + ms >= from * 1000
    if (!started) {
      skipped += ms
      continue
    }
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') {
      idle += ms
      continue
    }
    busy += ms
    const where = url === '' ? '' : `${basename(url)}:${lineNumber + 1}`
    const key = `${functionName || '(anonymous)'}\t${where}\t${areaOf(url, functionName)}`
    self.set(key, (self.get(key) ?? 0) + ms)
  }
  const functions = [...self].map(([key, ms]) => {
    const [name, where, area] = key.split('\t')
    return { name, where, area, ms }
  })
  functions.sort((a, b) => b.ms - a.ms)
  const areas = new Map()
  for (const f of functions) areas.set(f.area, (areas.get(f.area) ?? 0) + f.ms)
  return { skipped, busy, idle, functions, areas: [...areas].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms) }
}

/** The summary as text: busy time, areas, then the top functions. */
export function format(name, summary, top = 15) {
  const pct = (ms) => `${((100 * ms) / summary.busy).toFixed(1).padStart(5)} %`
  const start = summary.skipped > 0 ? ` (its first ${(summary.skipped / 1000).toFixed(2)} s, the start, left out)` : ''
  const lines = [`${name}: ${(summary.busy / 1000).toFixed(2)} s busy, ${(summary.idle / 1000).toFixed(2)} s idle${start}`]
  for (const { area, ms } of summary.areas) lines.push(`  ${pct(ms)}  ${area}`)
  lines.push('  top functions by self time:')
  for (const f of summary.functions.slice(0, top)) lines.push(`  ${pct(f.ms)}  ${f.name} (${f.where || 'native'}) [${f.area}]`)
  return lines.join('\n')
}

/** The .cpuprofile files of a path (a file, or a directory's). */
export function profileFiles(path) {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
    .map((f) => join(path, f))
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]))) {
  const [path, ...rest] = process.argv.slice(2)
  if (path === undefined || path === '--help') {
    console.log('node bench/profile-summary.mjs <file.cpuprofile | dir> [--top 15] [--from seconds | work]')
    process.exit(path === undefined ? 2 : 0)
  }
  const flag = (name, fallback) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : fallback)
  const from = flag('--from', '0') === 'work' ? 'work' : Number(flag('--from', '0'))
  for (const file of profileFiles(path))
    console.log(format(basename(file), summarize(JSON.parse(readFileSync(file, 'utf8')), from), Number(flag('--top', 15))) + '\n')
}
