/**
 * What a failed optional output says, once: `<name> failed (<why>): nothing more is
 * written to it; the run goes on`. One wording for stdout, stderr and the stats stream.
 */
export function outputFailed(name: string, error: unknown): string {
  return `${name} failed (${error instanceof Error ? error.message : String(error)}): nothing more is written to it; the run goes on`
}

/**
 * Keeps the process's stdout and stderr optional outputs: a write that fails (a full disk
 * under a redirection, a pipe whose reader went away, a closed terminal) would otherwise
 * be an unhandled 'error' event that kills the process with a stack. The first failure of
 * each is said once on the other one (if it still works), as `<program>: <what failed>`;
 * the stream is then destroyed by Node, and later writes to it are dropped.
 */
export function keepStdioOptional(program: string): void {
  const streams = { stdout: process.stdout, stderr: process.stderr }
  for (const [name, stream] of Object.entries(streams)) {
    const other = name === 'stdout' ? streams.stderr : streams.stdout
    let said = false
    stream.on('error', (error: Error) => {
      if (said) return
      said = true
      if (!other.destroyed) other.write(`${program}: ${outputFailed(name, error)}\n`)
    })
  }
}
