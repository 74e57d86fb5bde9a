import { CommanderError } from './commander.js'
import type { Command } from './commander.js'
import { TaskmasterError, describeError } from '../errors.js'
import { redactText } from '../redact.js'
import { jsonLogLine, printable } from './log-format.js'
import { keepStdioOptional } from './optional-output.js'

/**
 * Runs a CLI command and exits with the code its action left in `process.exitCode`.
 * No arguments at all print the whole help (on stderr, exit 2): a newcomer learns more
 * from it than from "missing required argument". Commander's own errors (already printed) exit 2,
 * our errors print their one-line message and exit with their code, anything else
 * is a bug and prints its stack. A stdout or stderr that fails stops no command (see
 * {@link keepStdioOptional}).
 */
export async function runCli(program: Command, argv: string[]): Promise<never> {
  const name = program.name()
  keepStdioOptional(name)
  program.exitOverride()
  // With --log-format json, the command's last word (an error, a usage mistake) is a JSON line too.
  const json = asksJson(argv)
  const errorLine = (text: string): string => (json ? jsonLogLine('error', text) : text)
  if (json)
    for (const command of [program, ...program.commands])
      command.configureOutput({ outputError: (text, write) => write(errorLine(text.trimEnd()) + '\n') })
  // The event loop emptied while the command still waited: only a promise that nothing can
  // settle (the user's top-level await, total(), a handler...) is left. Node would exit 0,
  // which reads as success; say what happened and fail instead.
  const stranded = (): void => {
    process.stderr.write(
      errorLine(
        `${name}: stopped: it was waiting on a promise that can never settle (nothing is left that could settle it): a top-level await or a function of the user's modules that returns a promise nothing resolves`,
      ) + '\n',
    )
    process.exit(1)
  }
  process.once('beforeExit', stranded)
  let code: number
  try {
    if (argv.length <= 2) program.help({ error: true })
    await program.parseAsync(argv)
    code = Number(process.exitCode ?? 0)
  } catch (error) {
    if (error instanceof CommanderError) {
      code = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? 0 : 2
    } else {
      // Whatever the error quotes (a URL with its password, a token=... pair) is masked.
      process.stderr.write(printable(errorLine(`${name}: ${redactText(describeError(error))}`)) + '\n')
      code = error instanceof TaskmasterError ? error.exitCode : 1
    }
  }
  process.off('beforeExit', stranded)
  // User modules may hold handles (database pools, timers): the run is over, so exit.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
  process.exit(code)
}

/** Whether `argv` asks for JSON log lines (`--log-format json`, `--log-format=json`), read before (or without) the parse. */
export function asksJson(argv: readonly string[]): boolean {
  let json = false
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break
    if (argv[i] === '--log-format') json = argv[i + 1] === 'json'
    else if (argv[i].startsWith('--log-format=')) json = argv[i] === '--log-format=json'
  }
  return json
}

/** Exit code of a stop by signal, by shell convention (128 + number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1
}

/** Calls `onSignal` on each SIGINT and SIGTERM; returns the first signal received. */
export function onStopSignals(onSignal: (signal: NodeJS.Signals) => void): () => NodeJS.Signals | undefined {
  let first: NodeJS.Signals | undefined
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      first ??= signal
      onSignal(signal)
    })
  }
  return () => first
}
