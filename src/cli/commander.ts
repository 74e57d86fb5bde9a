import type * as Commander from 'commander'
import { commander } from '../cjs-packages.js'

// commander's classes as the command lines use them, loaded by require (see src/cjs-packages.ts).
export const { Command, CommanderError, InvalidArgumentError, Option } = commander
export type Command = Commander.Command
export type CommanderError = Commander.CommanderError
export type InvalidArgumentError = Commander.InvalidArgumentError
export type Option = Commander.Option
