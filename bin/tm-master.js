#!/usr/bin/env node
import { main } from '../dist/cli/master-command.js'

main()
