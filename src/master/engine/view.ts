import type { Socket } from 'node:net'
import type { ControlSource, ControlsFigures, ControlUpdate } from './controls.js'
import type { HistoryDocument } from './run-history.js'
import type { RequestRoutes } from './server.js'
import type { RunStatus } from './status.js'

/**
 * What the outside of a run (the HTTP surface) may see and do of it: the narrow interface
 * through which the engine is read. The engine never imports what reads it; it hands this
 * view to a {@link SurfaceFactory} and calls the surface back at each new status document
 * and before its port closes.
 */
export interface RunView {
  /** The last status document (built once a second and at each change of state). */
  status(): RunStatus
  /**
   * The figures of the run, the master and each slave since this master started, older ones
   * merged (bounded): the same object until the next sample.
   */
  history(): HistoryDocument
  /** The controls now. */
  readonly controls: ControlsFigures
  /** The control setters: each returns what changed, undefined when nothing did. */
  setPaused(paused: boolean, source: ControlSource): ControlUpdate | undefined
  setRate(rate: number | null, source: ControlSource): ControlUpdate | undefined
  setMaxInFlight(max: number | null, source: ControlSource): ControlUpdate | undefined
  /** A stop asked from outside: graceful first, at once the second time; returns what it does. */
  stop(source: ControlSource): ControlUpdate
  /** Keeps a long-lived answer's socket (a stream of events) out of the port's idle cut. */
  keep(socket: Socket): void
  /** A line for the master's log. */
  log(level: 'info' | 'warn', message: string): void
}

/** What serves a run's plain HTTP requests, told of each new status document and of the end. */
export interface RunSurface {
  readonly routes: RequestRoutes
  /** A new status document was built. */
  published(): void
  /** The port is about to close: long-lived answers end now (with the last document). */
  closing(): void
}

/** Makes the surface of a run from its view (the HTTP routes, see src/master/http/surface.ts). */
export type SurfaceFactory = (view: RunView) => RunSurface
