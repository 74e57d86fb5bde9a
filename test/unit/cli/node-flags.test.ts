import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NODE_FLAGS } from '../../../src/cli/node-flags.js'
import { ROOT } from '../../helpers/proc.js'

describe('NODE_FLAGS', () => {
  it('are the flags of both bin/ shebangs, so spawned slaves run like the commands', () => {
    for (const bin of ['tm-master.js', 'tm-slave.js']) {
      const shebang = readFileSync(join(ROOT, 'bin', bin), 'utf8').split('\n')[0]
      expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`)
    }
  })
})
