import { describe, expect, it } from 'vitest'
import { jsonLocalSlaveLine, jsonLogLine, logFormat } from '../../../src/cli/log-format.js'

const NOW = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))

describe('log lines as JSON', () => {
  it('one object: time, level, message, then the fields', () => {
    expect(jsonLogLine('warn', 'Job 7 failed', { key: 'posts' }, NOW)).toBe('{"time":"2026-01-02T03:04:05.006Z","level":"warn","message":"Job 7 failed","key":"posts"}')
  })

  it('a local slave’s JSON line gets its number; its text lines are wrapped', () => {
    expect(jsonLocalSlaveLine('[slave 2] {"time":"t","level":"info","message":"m","pid":9}', NOW)).toBe('{"time":"t","level":"info","message":"m","pid":9,"slave":2}')
    expect(jsonLocalSlaveLine('[slave 1] exited (code 3); starting it again', NOW)).toBe('{"time":"2026-01-02T03:04:05.006Z","level":"info","message":"exited (code 3); starting it again","slave":1}')
    expect(jsonLocalSlaveLine('[slave 1] {not json', NOW)).toBe('{"time":"2026-01-02T03:04:05.006Z","level":"info","message":"{not json","slave":1}')
  })

  it('--log-format takes text or json', () => {
    expect(logFormat('json')).toBe('json')
    expect(() => logFormat('xml')).toThrow("must be text or json, got 'xml'")
  })
})
