// The engine as the HTTP surface sees it: one narrow interface (a dependency rule keeps
// src/master/http/ from importing anything of the engine but this file).
export type { RunSurface, RunView, SurfaceFactory } from './view.js'
export type { ControlSource, ControlsFigures, ControlUpdate } from './controls.js'
export { describeChange } from './controls.js'
export type { MasterFigures, RunFigures, RunStatus, SlaveFigures } from './status.js'
export type { HistoryDocument, HistoryPoint, ResourcePoint, SlaveHistory } from './run-history.js'
export type { HttpLog } from './answers.js'
export { failRequest, requestTarget, sendJson, sendText } from './answers.js'
export { tokenMatches } from './token.js'
