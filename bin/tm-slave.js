#!/usr/bin/env node
import { main } from '../dist/cli/slave-command.js'

main()
