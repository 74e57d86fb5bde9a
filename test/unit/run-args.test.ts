import { describe, expect, it } from 'vitest'
import { OptionError } from '../../src/errors.js'
import { resolveRunArgs, shownArgs } from '../../src/run-args.js'

describe('resolveRunArgs', () => {
  it('keeps the values, masks secret names and URL secrets in what is shown, and lists the secrets', () => {
    const args = resolveRunArgs(
      { n: '300', db: 'postgres://user:s3cret@h:1/x?password=other', apiToken: 'abc', key: 'k1', primaryKey: 'id' },
      {},
    )
    expect(args.values).toEqual({
      n: '300',
      db: 'postgres://user:s3cret@h:1/x?password=other',
      apiToken: 'abc',
      key: 'k1',
      primaryKey: 'id',
    })
    // A name with the word `key` is masked (so `primaryKey` too): rather too much than too little.
    expect(args.shown).toEqual({ n: '300', db: 'postgres://user:***@h:1/x?password=***', apiToken: '***', key: '***', primaryKey: '***' })
    expect(args.secrets).toEqual(['s3cret', 'other', 'abc', 'k1', 'id'])
  })
  it('takes env:NAME from the environment; a value from there is shown masked unless it is a URL', () => {
    const args = resolveRunArgs({ db: 'env:DB', dsn: 'env:DSN', n: '3' }, { DB: 'postgres://u:pw@h/d', DSN: 'host=h user=u' })
    expect(args.values).toEqual({ db: 'postgres://u:pw@h/d', dsn: 'host=h user=u', n: '3' })
    expect(args.shown).toEqual({ db: 'postgres://u:***@h/d', dsn: '***', n: '3' })
    expect(args.secrets).toEqual(['pw', 'host=h user=u'])
  })
  it('refuses an unset variable, or none, in one line naming the argument and the variable', () => {
    expect(() => resolveRunArgs({ db: 'env:NOPE' }, {})).toThrow(
      new OptionError("Run argument 'db=env:NOPE' names the environment variable NOPE, which is not set", 'args'),
    )
    expect(() => resolveRunArgs({ db: 'env:' }, {})).toThrow(
      new OptionError("Run argument 'db=env:' names no environment variable (write db=env:NAME)", 'args'),
    )
    expect(resolveRunArgs({ db: 'env:EMPTY' }, { EMPTY: '' }).values).toEqual({ db: '' })
  })
})

describe('shownArgs', () => {
  it('shows clear arguments (a checkpoint of an older version) as a new one saves them, and is idempotent', () => {
    const clear = { db: 'postgres://user:s3cret@h/x?sslpassword=y', apiToken: 'abc', table: 'posts' }
    const shown = shownArgs(clear)
    expect(shown).toEqual({ db: 'postgres://user:***@h/x?sslpassword=***', apiToken: '***', table: 'posts' })
    expect(shownArgs(shown)).toEqual(shown)
  })
})
