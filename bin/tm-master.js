#!/usr/bin/env -S node --max-semi-space-size=4 --no-allocation-site-pretenuring
import { start } from './start.js'

await start('master-command', 'tm-master')
