import { importModule, parseModuleSpec, pickFunction } from '../../module-loader.js'
import { isThenable, oneLine, thrownLine, typeName } from '../../user-code.js'
import type { NamedThrottle, ThrottleCheck } from '../../options.js'

/** What a throttle check's answer means: null lets jobs go, a string is why dispatch is held. */
export type ThrottleVerdict = string | null

/**
 * The meaning of what a throttle check returned: false, undefined or null let jobs go;
 * true holds dispatch ("throttled"); a non-empty string holds it with that reason.
 * Anything else is a mistake of the check, and holds dispatch saying so.
 */
export function verdictOf(answer: unknown): ThrottleVerdict {
  if (answer === false || answer === undefined || answer === null) return null
  if (answer === true) return 'throttle check returned true'
  // A reason is shown on the status line: one line, of sane length.
  if (typeof answer === 'string') {
    const reason = oneLine(answer)
    return reason === '' ? 'throttle check returned an empty reason' : reason
  }
  return `throttle check returned ${typeName(answer)}; it must return false, true or a reason`
}

/**
 * Runs the user's throttle check on the master every `intervalMs`, never two at once,
 * and tells `onVerdict` what it says. A check that throws holds dispatch with its error;
 * one that has not answered within `intervalMs` holds dispatch, is abandoned (its signal
 * aborted, its late answer ignored) and the next check starts an interval later. Nothing
 * a check does reaches the run as an exception.
 */
export class Throttle {
  readonly #check: ThrottleCheck
  readonly #args: Readonly<Record<string, string>>
  readonly #intervalMs: number
  readonly #onVerdict: (verdict: ThrottleVerdict) => void
  #timer: NodeJS.Timeout | undefined
  /** Counts checks: an answer of an abandoned check is recognised by its number. */
  #current = 0
  #abort: AbortController | undefined
  #stopped = false

  constructor(
    check: ThrottleCheck,
    args: Readonly<Record<string, string>>,
    intervalMs: number,
    onVerdict: (verdict: ThrottleVerdict) => void,
  ) {
    this.#check = check
    this.#args = args
    this.#intervalMs = intervalMs
    this.#onVerdict = onVerdict
  }

  /** Runs the first check now, then one an interval after each answer (or abandon). */
  start(): void {
    this.#run()
  }

  /** No more checks; a check running is abandoned. */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#abort?.abort(new Error('the run is ending'))
  }

  #run(): void {
    if (this.#stopped) return
    const id = ++this.#current
    const abort = (this.#abort = new AbortController())
    const seconds = this.#intervalMs / 1000
    // Past its interval the check holds dispatch and is given up on: the run never waits for it.
    this.#timer = setTimeout(() => {
      if (id !== this.#current) return
      this.#current++
      const reason = `throttle check did not answer within ${seconds} s`
      abort.abort(new Error(reason))
      this.#onVerdict(reason)
      this.#next()
    }, this.#intervalMs)
    this.#timer.unref()
    let answer: unknown
    try {
      answer = this.#check({ args: this.#args, signal: abort.signal })
    } catch (error) {
      this.#settle(id, threw(error))
      return
    }
    if (isThenable(answer)) {
      Promise.resolve(answer).then(
        (value) => this.#settle(id, verdictOf(value)),
        (error: unknown) => this.#settle(id, threw(error)),
      )
    } else this.#settle(id, verdictOf(answer))
  }

  /** The answer of check `id`: ignored if that check was abandoned; else told, and the next check is due an interval later. */
  #settle(id: number, verdict: ThrottleVerdict): void {
    if (id !== this.#current || this.#stopped) return
    clearTimeout(this.#timer)
    this.#onVerdict(verdict)
    this.#next()
  }

  #next(): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => this.#run(), this.#intervalMs)
    this.#timer.unref()
  }
}

/** Why dispatch is held when the check threw `error`: one line, with the check's file and line. */
function threw(error: unknown): string {
  return `throttle check threw: ${thrownLine(error)}`
}

/**
 * Loads `--throttle <module>[:<export>]`: the export named, else `throttle`, else the
 * default export. A missing module or export is a `ModuleError` (exit 2).
 */
export async function loadThrottle(spec: string): Promise<NamedThrottle> {
  const { path, exportName } = parseModuleSpec(spec)
  const module = await importModule(path)
  const check = pickFunction<ThrottleCheck>(
    module,
    path,
    exportName,
    ['throttle', 'default'],
    'a function ({ args, signal }) => false | true | reason (sync or async)',
  ).fn
  return { check, name: spec }
}
