/** Taskmaster's library API: run a master or a slave from a script. */
export { Master, describeChange } from './master/master.js'
export type {
  MasterAddress,
  MasterEvents,
  RetryFailed,
  RunSummary,
  Outcome,
  RunStatus,
  RunFigures,
  RunState,
  SessionFigures,
  SlaveFigures,
  ControlChange,
  ControlSource,
  ControlsFigures,
  ControlUpdate,
} from './master/master.js'
export type { FailureFigures, MasterFigures } from './master/engine/status.js'
export type { HistoryDocument, HistoryPoint, ResourcePoint, SlaveHistory } from './master/engine/run-history.js'
export { Slave } from './slave/slave.js'
export type { SlaveEvents, SlaveSummary } from './slave/slave.js'
export { LocalSlaves, MAX_LOCAL_SLAVES } from './slave/local-slaves.js'
export type { LocalSlavesOptions, LocalSlaveSettings } from './slave/local-slaves.js'
export type { LogLine } from './log-line.js'
export type {
  MasterOptions,
  SlaveOptions,
  JobSource,
  JobGenerator,
  PagedGenerator,
  JobKey,
  JobTotal,
  SourceContext,
  GeneratorContext,
  Handler,
  HandlerContext,
  BatchHandler,
  BatchContext,
  BatchFailure,
  SetupContext,
  HandlerLifecycle,
  TeardownContext,
  RunInfo,
  TlsOptions,
  ThrottleCheck,
  NamedThrottle,
} from './options.js'
export { MASTER_DEFAULTS, SLAVE_DEFAULTS } from './options.js'
export { loadJobSource, loadHandler } from './module-loader.js'
export { stateBackend } from './master/state/state-backend.js'
export type { BackendOptions } from './master/state/state-backend.js'
export type { ListedRun, RetryPass, RunList, StateBackend, StateStore, StoredRun } from './master/state/state-store.js'
export { listRuns } from './master/state/run-list.js'
export type { ListRunsOptions, ListedRunState, RunListing, RunListings } from './master/state/run-list.js'
export * from './errors.js'
export { PROTOCOL_VERSION } from './protocol/messages.js'
export type * from './protocol/messages.js'
export { encode, decode } from './protocol/codec.js'
export type { Checkpoint } from './master/state/checkpoint.js'
export { keyset } from './sources/keyset.js'
export type { KeysetOptions, KeysetSource, KeyType } from './sources/keyset.js'
export { idRanges } from './sources/id-ranges.js'
export type { IdRange, IdRangesOptions, IdRangesSource } from './sources/id-ranges.js'
export type { Shard } from './shard.js'
