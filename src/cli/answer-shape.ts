import type { ControlAnswer } from '../master/http/control-routes.js'
import type { ControlsFigures } from '../master/engine/controls.js'
import type { RunStatus } from '../master/engine/status.js'

/**
 * Checks that what a `--host` answered is a Taskmaster master's document before tm-ctl
 * formats it: another server on that port (or another version) may answer JSON of any
 * shape, and tm-ctl must say so in one line rather than fail reading a field.
 */

type Check = (value: unknown) => boolean

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const number: Check = (value) => typeof value === 'number' && Number.isFinite(value)
const string: Check = (value) => typeof value === 'string'
const boolean: Check = (value) => typeof value === 'boolean'
const orNull =
  (check: Check): Check =>
  (value) =>
    value === null || check(value)
const key: Check = (value) => typeof value === 'string' || number(value)

/** `value` is an object whose fields pass their checks (other fields are let through). */
function fields(value: unknown, checks: Record<string, Check>): boolean {
  return isObject(value) && Object.entries(checks).every(([name, check]) => check(value[name]))
}
const arrayOf =
  (check: Check): Check =>
  (value) =>
    Array.isArray(value) && value.every(check)

const CONTROLS: Record<keyof ControlsFigures, Check> = {
  paused: boolean,
  rate: orNull(number),
  maxInFlight: orNull(number),
  throttled: orNull(string),
  throttle: orNull(string),
}
const controls: Check = (value) => fields(value, CONTROLS)

const run: Check = (value) =>
  fields(value, {
    key: string,
    args: isObject,
    state: string,
    resumed: boolean,
    position: number,
    last: orNull(key),
    done: number,
    failed: number,
    inFlight: number,
    queued: number,
    total: orNull(number),
    percent: orNull(number),
    rate: number,
    etaMs: orNull(number),
    elapsedMs: number,
    startedAt: string,
    controls,
  })
const slave: Check = (value) =>
  fields(value, { id: number, address: string, hostname: string, pid: number, concurrency: number, done: number, failed: number })
const failure: Check = (value) => fields(value, { key, attempts: number, error: string })

/** A status document (`GET /status`) as tm-ctl reads it. */
export function isRunStatus(value: unknown): value is RunStatus {
  return fields(value, { time: string, run, slaves: arrayOf(slave), failures: arrayOf(failure) })
}

/** A change of the controls (`{ kind, ... }`), null (nothing changed), or absent (a master older than the field). */
const change: Check = (value) => value === undefined || value === null || fields(value, { kind: string })

/** A control endpoint's answer (`POST /pause`, ...) as tm-ctl reads it. */
export function isControlAnswer(value: unknown): value is ControlAnswer {
  return fields(value, { changed: string, change, controls })
}
