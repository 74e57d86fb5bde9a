import { AUTH_ERROR_CODE, CLOSE_CODE, FULL_ERROR_CODE } from './protocol/constants.js'

/**
 * Every error Taskmaster raises on purpose. Each has a stable `code` so scripts can
 * tell them apart, and a message written for the person at the terminal: the CLIs
 * print `message` alone (no stack) for these, and a stack only for bugs.
 */

/** Base class of every Taskmaster error. */
export class TaskmasterError extends Error {
  /** Stable machine-readable code, e.g. `TM_ERR_MODULE`. */
  readonly code: string
  /** Exit code a CLI should end with when this error stops it. */
  readonly exitCode: number

  constructor(code: string, message: string, exitCode = 1) {
    super(message)
    this.name = new.target.name
    this.code = code
    this.exitCode = exitCode
  }
}

/** A user module could not be loaded, or lacks the export asked for. */
export class ModuleError extends TaskmasterError {
  constructor(
    message: string,
    readonly modulePath: string,
  ) {
    super('TM_ERR_MODULE', message, 2)
  }
}

/** An option or argument is invalid. */
export class OptionError extends TaskmasterError {
  constructor(
    message: string,
    readonly option?: string,
  ) {
    super('TM_ERR_OPTION', message, 2)
  }
}

/**
 * A saved run state cannot be used as it is: another format or arguments, damaged, or
 * unreadable at start. A matter for the user (exit 2): --reset, another --key, a fix.
 */
export class CheckpointError extends TaskmasterError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super('TM_ERR_CHECKPOINT', message, 2)
  }
}

/**
 * A state file (checkpoint, journal, failed-jobs log) could not be written while the run
 * ran: a full disk, a removed directory. The run stops (exit 1); what is on disk says
 * where it resumes.
 */
export class StateFileError extends TaskmasterError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super('TM_ERR_STATE_FILE', message, 1)
  }
}

/** Another master holds the run's lock. */
export class LockError extends TaskmasterError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super('TM_ERR_LOCKED', message, 2)
  }
}

/**
 * Another master took the run's lease in the state store (this one was paused or cut off
 * past the lease's deadline): this one stops, writing nothing more (exit 1).
 */
export class LeaseError extends TaskmasterError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super('TM_ERR_LEASE', message, 1)
  }
}

/**
 * A peer sent something that is not a valid protocol message. `closeCode` is the
 * WebSocket close code the connection is closed with.
 */
export class ProtocolError extends TaskmasterError {
  constructor(
    message: string,
    readonly closeCode: number = CLOSE_CODE.protocol,
  ) {
    super('TM_ERR_PROTOCOL', message)
  }
}

/** A slave without the run's token; `closeCode` is the WebSocket close code sent. */
export class AuthError extends TaskmasterError {
  readonly closeCode = CLOSE_CODE.policy
  constructor(message: string) {
    super(AUTH_ERROR_CODE, message, 2)
  }
}

/**
 * The master already serves `maxSlaves` slaves (`--max-slaves`): the slave is refused for
 * now, and should try again later (a slot frees when a slave leaves).
 */
export class FullError extends TaskmasterError {
  readonly closeCode = CLOSE_CODE.policy
  constructor(message: string) {
    super(FULL_ERROR_CODE, message)
  }
}

/** The master refused the slave for a reason retrying will not change (another protocol version). */
export class RefusedError extends TaskmasterError {
  constructor(message: string) {
    super('TM_ERR_REFUSED', message, 2)
  }
}

/** A TLS certificate or key cannot be used, or the master's certificate cannot be verified. */
export class TlsError extends TaskmasterError {
  constructor(message: string) {
    super('TM_ERR_TLS', message, 2)
  }
}

/** The master cannot listen on the address asked for. */
export class ListenError extends TaskmasterError {
  constructor(
    message: string,
    readonly address: string,
  ) {
    super('TM_ERR_LISTEN', message, 2)
  }
}

/** An API call made in the wrong state (run() twice). */
export class StateError extends TaskmasterError {
  constructor(message: string) {
    super('TM_ERR_STATE', message)
  }
}

/** The generator threw, yielded a job without a usable key, or a job that cannot be sent. */
export class JobSourceError extends TaskmasterError {
  constructor(message: string) {
    super('TM_ERR_JOB_SOURCE', message)
  }
}

/**
 * The jobs source refused to start (its `check`): a wrong table or column, a database it
 * cannot reach, a missing argument. Said before the master listens, before any job: a
 * matter for the user (exit 2).
 */
export class SourceCheckError extends TaskmasterError {
  constructor(message: string) {
    super('TM_ERR_SOURCE_CHECK', message, 2)
  }
}

/** A master could not be reached or answered unusably (tm-ctl), or kept a slave out for its whole reconnect time. */
export class ConnectionError extends TaskmasterError {
  constructor(message: string) {
    super('TM_ERR_CONNECTION', message)
  }
}

/** Exit code of a slave that no master answered within --reconnect: the run may simply be over. */
export const EXIT_NO_MASTER = 4

/**
 * No master answered a slave for its whole reconnect time: it never reached one, or lost
 * its own and none came back. Not a failure a supervisor should alarm on by itself (the
 * run may be over and its master gone), so it has its own exit code, {@link EXIT_NO_MASTER}.
 */
export class NoMasterError extends TaskmasterError {
  constructor(message: string) {
    super('TM_ERR_NO_MASTER', message, EXIT_NO_MASTER)
  }
}

/** One line for the terminal: the message of our errors, the stack of anything else (a bug). */
export function describeError(error: unknown): string {
  if (error instanceof TaskmasterError) return error.message
  if (error instanceof Error) return error.stack ?? error.message
  return String(error)
}

/** A handler module's `setup` threw: the slave takes no jobs and exits 2. */
export class SetupError extends TaskmasterError {
  constructor(message: string) {
    super('TM_ERR_SETUP', message, 2)
  }
}

/**
 * A user's function (setup, teardown, total) threw, rejected, or did not finish in time.
 * `message` is one line: what was thrown and where, or how long it was given.
 */
export class UserCodeError extends TaskmasterError {
  /**
   * @param late the call did not finish in time (nothing was thrown)
   * @param thrown what the call threw or rejected with, as it was
   */
  constructor(
    message: string,
    readonly late: boolean,
    readonly thrown?: unknown,
  ) {
    super('TM_ERR_USER_CODE', message)
  }
}
