import { fileURLToPath, pathToFileURL } from 'node:url'
import { sep } from 'node:path'

/** Most frames kept: a handler's own frames and the libraries it called, not a whole async chain. */
export const MAX_USER_FRAMES = 10

/** Frames kept when none is the user's (an error raised inside Node.js itself), for a hint of where. */
const FALLBACK_FRAMES = 3

/** Taskmaster's own compiled and source code, as paths and as file URLs (ESM frames print URLs). */
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OWN = [`${ROOT}dist/`, `${ROOT}src/`].flatMap((dir) => [dir, pathToFileURL(dir).href])

const FRAME = /^\s+at /

/** A frame of no use to the user: Node.js internals, Taskmaster itself, or code loaded from a `data:` URL. */
function isNoise(frame: string, own: readonly string[]): boolean {
  if (frame.includes('node:internal') || /[( ]node:/.test(frame) || frame.includes('data:')) return true
  for (const dir of own) if (frame.includes(dir)) return true
  return false
}

/**
 * A handler's stack trace trimmed to what helps its author: the message, then the frames
 * of the user's code and the libraries it called (at most {@link MAX_USER_FRAMES}), without
 * Taskmaster's runner, Node.js internals or `data:` URLs (kilobytes of compiled code). If
 * no frame is the user's, the first few that are not `data:` URLs stay. Pure: `own` lists
 * the directories (paths and file URLs) counted as Taskmaster's; it defaults to this package.
 */
export function userStack(stack: string, own: readonly string[] = OWN): string {
  const lines = stack.split('\n')
  const first = lines.findIndex((line) => FRAME.test(line))
  if (first === -1) return stack
  const kept = lines.slice(0, first)
  let frames = 0
  for (let i = first; i < lines.length && frames < MAX_USER_FRAMES; i++) {
    const line = lines[i]
    if (FRAME.test(line) && !isNoise(line, own)) {
      kept.push(line)
      frames++
    }
  }
  if (frames === 0) {
    for (let i = first; i < lines.length && frames < FALLBACK_FRAMES; i++) {
      const line = lines[i]
      if (FRAME.test(line) && !line.includes('data:')) {
        kept.push(line)
        frames++
      }
    }
  }
  return kept.join('\n')
}

/** `at fn (where)` or `at where`: the location of a frame. */
const LOCATION = /^\s+at (?:.*? \()?(.*?):(\d+):\d+\)?$/

/**
 * The user's file and line in `stack` (`jobs.mjs:12`, relative to `cwd` when under it):
 * the first frame that is neither noise (see {@link userStack}) nor a library under
 * `node_modules`, else the first one that is not noise; undefined if there is none. Only
 * the end of a huge stack is read: a 17 MB message must not be split into lines.
 */
export function userFrame(stack: string, own: readonly string[] = OWN, cwd: string = process.cwd()): string | undefined {
  const tail = stack.length > TAIL ? stack.slice(-TAIL) : stack
  let library: string | undefined
  for (const line of tail.split('\n')) {
    if (!FRAME.test(line) || isNoise(line, own)) continue
    const match = LOCATION.exec(line)
    if (match === null) continue
    const where = `${relative(match[1], cwd)}:${match[2]}`
    if (!line.includes('node_modules')) return where
    library ??= where
  }
  return library
}

/** Characters of a stack's end read by {@link userFrame}: frames, not a message. */
const TAIL = 16 * 1024

/** A frame's file (a path or a file URL) relative to `cwd` when under it. */
function relative(file: string, cwd: string): string {
  let path = file
  if (path.startsWith('file://')) {
    try {
      path = fileURLToPath(path)
    } catch {
      return file
    }
  }
  const dir = cwd.endsWith(sep) ? cwd : cwd + sep
  return path.startsWith(dir) ? path.slice(dir.length) : path
}
