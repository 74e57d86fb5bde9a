import { describe, expect, it } from 'vitest'
import { argsText, doneOfTotal, listTime, runListLines, runListText } from '../../../src/cli/run-list-text.js'
import type { RunListing } from '../../../src/master/state/run-list.js'

/** A listed run, stopped at 1,234 of 5,000, with `fields` replaced. */
function listing(fields: Partial<RunListing> = {}): RunListing {
  return {
    key: 'posts',
    state: 'stopped',
    done: 1234,
    failed: 2,
    total: 5000,
    totalEstimated: false,
    paused: false,
    startedAt: '2025-01-02T10:00:00.123Z',
    updatedAt: '2025-01-02T10:05:09.999Z',
    args: { table: 'posts', db: 'env:DATABASE_URL' },
    where: '/s/posts.json',
    problem: null,
    ...fields,
  }
}

describe('listTime', () => {
  it('shows an ISO time in UTC to the second, - when unknown, and a text that is no time as it is', () => {
    expect(listTime('2025-01-02T10:05:09.999Z')).toBe('2025-01-02 10:05:09')
    expect(listTime('2025-01-02T12:05:09+02:00')).toBe('2025-01-02 10:05:09')
    expect(listTime(null)).toBe('-')
    expect(listTime('yesterday')).toBe('yesterday')
  })
})

describe('doneOfTotal', () => {
  it('shows done of the total, ~ for an estimate, - for what is not known', () => {
    expect(doneOfTotal({ done: 1234, total: 5000, totalEstimated: false })).toBe('1,234 / 5,000')
    expect(doneOfTotal({ done: 1234, total: 5000, totalEstimated: true })).toBe('1,234 / ~5,000')
    expect(doneOfTotal({ done: 1234, total: null, totalEstimated: false })).toBe('1,234 / -')
    expect(doneOfTotal({ done: null, total: null, totalEstimated: false })).toBe('- / -')
  })
})

describe('argsText', () => {
  it('joins name=value pairs as given, empty for none and - when unknown', () => {
    expect(argsText({ a: '1', db: 'postgres://u:***@h/x' })).toBe('a=1 db=postgres://u:***@h/x')
    expect(argsText({})).toBe('')
    expect(argsText(null)).toBe('-')
  })
})

describe('runListLines', () => {
  it('is a heading and a row a run, columns aligned, numbers to the right', () => {
    expect(
      runListLines({
        where: '/s',
        runs: [
          listing({ key: 'posts-backfill', state: 'running', total: 1_000_000, totalEstimated: true }),
          listing({ key: 'users', state: 'complete', done: 20, failed: 0, total: 20, args: {} }),
          listing({ key: 'old', total: null }),
        ],
      }),
    ).toEqual([
      'key             state           done / total  failed  started (UTC)        updated (UTC)        arguments',
      'posts-backfill  running   1,234 / ~1,000,000       2  2025-01-02 10:00:00  2025-01-02 10:05:09  table=posts db=env:DATABASE_URL',
      'users           complete             20 / 20       0  2025-01-02 10:00:00  2025-01-02 10:05:09',
      'old             stopped            1,234 / -       2  2025-01-02 10:00:00  2025-01-02 10:05:09  table=posts db=env:DATABASE_URL',
    ])
  })

  it('says why each damaged run cannot be read, under the table', () => {
    const damaged = listing({
      key: 'torn',
      state: 'damaged',
      done: null,
      failed: null,
      total: null,
      startedAt: null,
      updatedAt: null,
      args: null,
      problem: "Checkpoint '/s/torn.json' is not valid JSON",
    })
    expect(runListLines({ where: '/s', runs: [listing(), damaged] })).toEqual([
      'key    state     done / total  failed  started (UTC)        updated (UTC)        arguments',
      'posts  stopped  1,234 / 5,000       2  2025-01-02 10:00:00  2025-01-02 10:05:09  table=posts db=env:DATABASE_URL',
      'torn   damaged          - / -       -  -                    -                    -',
      '',
      "torn: Checkpoint '/s/torn.json' is not valid JSON",
    ])
  })

  it('escapes control characters in a cell before aligning: a key or an argument cannot break a line or the columns', () => {
    const lines = runListLines({ where: '/s', runs: [listing({ key: 'a\nb\u001b[31m', args: { x: 'y\rz' } }), listing({ key: 'c' })] })
    expect(lines).toHaveLength(3)
    expect(lines[1]).toBe('a\\nb\\u001b[31m  stopped  1,234 / 5,000       2  2025-01-02 10:00:00  2025-01-02 10:05:09  x=y\\rz')
    expect(lines[2].indexOf('stopped')).toBe(lines[1].indexOf('stopped'))
  })

  it('says there is no run in one line', () => {
    expect(runListLines({ where: '/var/lib/tm', runs: [] })).toEqual(['No runs in /var/lib/tm'])
  })
})

describe('runListText', () => {
  it('is the lines, or the runs as a JSON array', () => {
    const list = { where: '/s', runs: [listing()] }
    expect(runListText(list, false)).toBe(runListLines(list).join('\n') + '\n')
    expect(JSON.parse(runListText(list, true))).toEqual([listing()])
    expect(runListText({ where: '/s', runs: [] }, true)).toBe('[]\n')
  })
})
