#!/usr/bin/env -S node --max-semi-space-size=4
import { main } from '../dist/cli/master-command.js'

main()
