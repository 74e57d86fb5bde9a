import { describe, expect, it } from 'vitest'
import { asksJson } from '../../../src/cli/run-cli.js'

describe('asksJson', () => {
  it('reads --log-format json in either spelling, the last one winning, never after --', () => {
    expect(asksJson(['node', 'tm-master', 'jobs.ts', '--log-format', 'json'])).toBe(true)
    expect(asksJson(['node', 'tm-master', '--log-format=json', 'jobs.ts'])).toBe(true)
    expect(asksJson(['node', 'tm-master', '--log-format', 'json', '--log-format', 'text'])).toBe(false)
    expect(asksJson(['node', 'tm-master', 'jobs.ts'])).toBe(false)
    expect(asksJson(['node', 'tm-master', '--log-format'])).toBe(false)
    expect(asksJson(['node', 'tm-master', '--', '--log-format', 'json'])).toBe(false)
  })
})
