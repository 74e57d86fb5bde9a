#!/usr/bin/env node
import { main } from '../dist/cli/ctl-command.js'

main()
