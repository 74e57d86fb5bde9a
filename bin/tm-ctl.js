#!/usr/bin/env node
import { start } from './start.js'

await start('ctl-command', 'tm-ctl')
