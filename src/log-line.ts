/** A line of a master's or a slave's log, as their `log` event carries it. */
export interface LogLine {
  /** `warn`: something went wrong and the run goes on; `info`: anything else worth a line. */
  level: 'info' | 'warn'
  /** The line's text (a printer escapes its control characters). */
  message: string
}
