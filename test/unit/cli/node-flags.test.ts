import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NODE_FLAGS } from '../../../src/cli/node-flags.js'
import { ROOT } from '../../helpers/proc.js'

const shebang = (bin: string): string => readFileSync(join(ROOT, 'bin', bin), 'utf8').split('\n')[0]

describe('NODE_FLAGS', () => {
  it('are the flags of the tm-master shebang, so the master runs the same however it is started', () => {
    expect(shebang('tm-master.js')).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`)
  })

  it("are not given to tm-slave: the user's handler runs under Node's defaults", () => {
    expect(shebang('tm-slave.js')).toBe('#!/usr/bin/env node')
  })
})
