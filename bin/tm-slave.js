#!/usr/bin/env -S node --max-semi-space-size=4 --no-allocation-site-pretenuring
import { main } from '../dist/cli/slave-command.js'

main()
