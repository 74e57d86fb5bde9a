import { describe, expect, it } from 'vitest'
import { OptionError } from '../../src/errors.js'
import { resolveRunArgs, savedArgsShown, shownArgs } from '../../src/run-args.js'

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
    expect(args.env).toEqual({ db: 'DB', dsn: 'DSN' })
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

describe('savedArgsShown', () => {
  it('masks as shownArgs does, and shows an argument given as env:VAR as env:VAR', () => {
    const saved = { db: 'postgres://user:***@h/x', dsn: '***', table: 'posts', old: 'postgres://u:clear@h/x' }
    expect(savedArgsShown(saved, { db: 'DATABASE_URL', dsn: 'DSN' })).toEqual({
      db: 'env:DATABASE_URL',
      dsn: 'env:DSN',
      table: 'posts',
      old: 'postgres://u:***@h/x',
    })
    expect(savedArgsShown(saved)).toEqual(shownArgs(saved))
  })

  it('names only saved arguments, and masks whatever a damaged env field holds', () => {
    expect(savedArgsShown({ n: '1' }, { gone: 'X' })).toEqual({ n: '1' })
    expect(savedArgsShown({ db: '***' }, { db: 'postgres://u:pw@h/x' })).toEqual({ db: 'env:postgres://u:***@h/x' })
    // An argument named __proto__ stays an argument, never the prototype.
    const odd = JSON.parse('{"__proto__": "***"}') as Record<string, string>
    const shown = savedArgsShown(odd, JSON.parse('{"__proto__": "V"}') as Record<string, string>)
    expect(Object.getPrototypeOf(shown)).toBe(Object.prototype)
    expect(Object.entries(shown)).toEqual([['__proto__', 'env:V']])
  })
})
