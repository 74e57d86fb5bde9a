import { describe, expect, it } from 'vitest'
import { jsonLocalSlaveLine, jsonLogLine, logFormat, printable, printableJson, printableLines } from '../../../src/cli/log-format.js'

const NOW = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))

describe('log lines as JSON', () => {
  it('one object: time, level, message, then the fields', () => {
    expect(jsonLogLine('warn', 'Job 7 failed', { key: 'posts' }, NOW)).toBe(
      '{"time":"2026-01-02T03:04:05.006Z","level":"warn","message":"Job 7 failed","key":"posts"}',
    )
  })

  it('a local slave’s JSON line gets its number; its text lines are wrapped', () => {
    expect(jsonLocalSlaveLine('[slave 2] {"time":"t","level":"info","message":"m","pid":9}', NOW)).toBe(
      '{"time":"t","level":"info","message":"m","pid":9,"slave":2}',
    )
    expect(jsonLocalSlaveLine('[slave 1] exited (code 3); starting it again', NOW)).toBe(
      '{"time":"2026-01-02T03:04:05.006Z","level":"info","message":"exited (code 3); starting it again","slave":1}',
    )
    expect(jsonLocalSlaveLine('[slave 1] {not json', NOW)).toBe(
      '{"time":"2026-01-02T03:04:05.006Z","level":"info","message":"{not json","slave":1}',
    )
  })

  it('--log-format takes text or json', () => {
    expect(logFormat('json')).toBe('json')
    expect(() => logFormat('xml')).toThrow("must be text or json, got 'xml'")
  })
})

describe('printable', () => {
  it('escapes every control character as JSON does, so user text stays on its line and moves no cursor', () => {
    expect(printable("key\nRun 'x' complete\r\x1b[2J\x00\x7f\x9b\u2028\u2029")).toBe(
      "key\\nRun 'x' complete\\r\\u001b[2J\\u0000\\u007f\\u009b\\u2028\\u2029",
    )
    expect(printable('tab\tand plain text, ünïcode and \\n as typed')).toBe('tab\tand plain text, ünïcode and \\n as typed')
  })

  it('leaves a JSON line the same JSON', () => {
    const line = jsonLogLine('warn', 'a\nb\x1b\x9b\u2028', { key: 'k' })
    expect(JSON.parse(printable(line))).toEqual(JSON.parse(line))
    expect(printable(line)).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/)
  })

  it('printableJson keeps the indentation and escapes what JSON.stringify leaves raw; printableLines ends each line once', () => {
    const value = { host: 'evil\n\x1b\x9b\u2028' }
    const text = printableJson(value, 2)
    expect(text).toBe('{\n  "host": "evil\\n\\u001b\\u009b\\u2028"\n}')
    expect(JSON.parse(text)).toEqual(value)
    expect(printableLines(['one\ntwo', 'three'])).toBe('one\\ntwo\nthree\n')
  })
})
