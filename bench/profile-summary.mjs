#!/usr/bin/env node
// Where a profiled process spent its time: the top functions by self time, and the same
// time by where the code lives (Taskmaster's own files, pg, msgpackr, ws, Node, garbage
// collection), from the .cpuprofile files of V8's sampling profiler (those
// bench/fixtures/cpu-at-exit.mjs writes, or node --cpu-prof's). Shares are of the busy
// samples (idle left out).
//   node bench/profile-summary.mjs <file.cpuprofile | dir> [--top 15] [--skip seconds]
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

/**
 * Self time per function and per area of one profile, in ms, busy samples only; the
 * samples of the first `skip` seconds left out (a process's start: its modules loading).
 */
export function summarize(profile, skip = 0) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map()
  const dt = profile.timeDeltas
  let busy = 0
  let idle = 0
  let at = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const ms = (dt[i] ?? 0) / 1000
    at += ms
    if (at < skip * 1000) continue
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
  return { busy, idle, functions, areas: [...areas].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms) }
}

/** The summary as text: busy time, areas, then the top functions. */
export function format(name, summary, top = 15) {
  const pct = (ms) => `${((100 * ms) / summary.busy).toFixed(1).padStart(5)} %`
  const lines = [`${name}: ${(summary.busy / 1000).toFixed(2)} s busy, ${(summary.idle / 1000).toFixed(2)} s idle`]
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
    console.log('node bench/profile-summary.mjs <file.cpuprofile | dir> [--top 15] [--skip seconds]')
    process.exit(path === undefined ? 2 : 0)
  }
  const flag = (name, fallback) => (rest.includes(name) ? Number(rest[rest.indexOf(name) + 1]) : fallback)
  for (const file of profileFiles(path))
    console.log(format(basename(file), summarize(JSON.parse(readFileSync(file, 'utf8')), flag('--skip', 0)), flag('--top', 15)) + '\n')
}
