import { createRequire } from 'node:module'
import type * as Commander from 'commander'
import type * as Ws from 'ws'

/**
 * The CommonJS packages that every process of Taskmaster starts with, required rather than
 * imported. Node 20 imports a CommonJS package into an ES module through its ES-module loader
 * (each file's source scanned for its exports), at about twice the time and three times the
 * CPU of a require: ws took 70 ms and 100 ms of CPU against 33 and 34, commander 35 against
 * 18, and a start is all CPU (docs/performance.md, Start-up). The CommonJS files are the
 * same either way: what a user's module imports of them is the same instance.
 */
const require = createRequire(import.meta.url)

/** The `commander` package (the command lines). */
export const commander = require('commander') as typeof Commander

/** The `ws` package as require gives it: the WebSocket class, with WebSocketServer among its properties. */
export const ws = require('ws') as typeof Ws.default & { WebSocketServer: typeof Ws.WebSocketServer }
