import { describe, expect, it } from 'vitest'
import { MASK, hideInError, hideSecrets, isSecretName, redactText } from '../../src/redact.js'

describe('isSecretName', () => {
  it('is true when a word of the name says secret, in any case and spelling', () => {
    for (const name of [
      'password',
      'PASSWORD',
      'passwd',
      'pwd',
      'secret',
      'token',
      'key',
      'apikey',
      'api_key',
      'apiKey',
      'APIKey',
      'X-Api-Key',
      'access_key',
      'accessKey',
      'sslkey',
      'sslpassword',
      'sslPassword',
      'dbpassword',
      'authtoken',
      'githubToken',
      'client_secret',
      'credential',
      'credentials',
      'auth',
      'X-Amz-Signature',
      'sig',
      'passphrase',
      'DB_PASS',
      'pass',
      'pw',
      'PW',
      'privkey',
      'cookie',
      'sessionCookie',
      'dbpass',
      'pgpass',
      'apikey2',
      'DB_PASS2',
      'sshkey',
      'userpw',
    ]) {
      expect(isSecretName(name), name).toBe(true)
    }
  })
  it('is false for names that merely contain such letters', () => {
    for (const name of [
      'db',
      'table',
      'n',
      'author',
      'keyset',
      'monkey',
      'tokenizer',
      'passes',
      'compass',
      'bypass',
      'turkey',
      'host',
      'shard2',
      'sslmode',
      'user',
      'max_lag',
      'retry-log',
      '@shard',
    ]) {
      expect(isSecretName(name), name).toBe(false)
    }
  })
})

describe('redactText', () => {
  it("masks a URL's password, keeping its user, host and path", () => {
    expect(redactText('postgres://user:s3cret@127.0.0.1:5432/db')).toBe('postgres://user:***@127.0.0.1:5432/db')
    expect(redactText('redis://:s3cret@cache:6379')).toBe('redis://:***@cache:6379')
    // An unencoded @ in a password: the authority ends at the last one.
    expect(redactText('postgres://app:p@ss@primary/app')).toBe('postgres://app:***@primary/app')
  })
  it('masks secret query parameters, case-insensitive, and keeps the others', () => {
    expect(redactText('postgres://u@h/x?password=other&sslpassword=x&sslmode=require&PWD=y&api_key=z')).toBe(
      'postgres://u@h/x?password=***&sslpassword=***&sslmode=require&PWD=***&api_key=***',
    )
    expect(redactText('postgres://user:s3cret@127.0.0.1:1/x?password=other&sslpassword=x')).toBe(
      'postgres://user:***@127.0.0.1:1/x?password=***&sslpassword=***',
    )
  })
  it('masks secret name=value pairs in free text, and URLs quoted in a message', () => {
    expect(redactText('host=db password=s3cret dbname=app')).toBe('host=db password=*** dbname=app')
    expect(redactText("Cannot connect to 'postgres://u:s3cret@h/d': refused")).toBe("Cannot connect to 'postgres://u:***@h/d': refused")
    expect(redactText('run with --token=abc and key=1')).toBe('run with --token=*** and key=***')
  })
  it('leaves text without secrets alone: URLs without a password, ports, plain pairs', () => {
    for (const text of [
      'http://127.0.0.1:5050/status',
      'ws://host:5050?x=1',
      'n=300 table=posts',
      'user@example.com',
      'postgres://u@h:1/x',
      '',
    ])
      expect(redactText(text)).toBe(text)
  })
  it('reads a long run of letters once, not once from each of its letters (a slave may name itself with 200,000 of them)', () => {
    // Each letter could start a URL's scheme: tried from every one, the line took minutes and held the master.
    const long = 'w'.repeat(200_000)
    expect(redactText(`slave ${long}:1 (127.0.0.1:5) connected`)).toBe(`slave ${long}:1 (127.0.0.1:5) connected`)
    // A scheme starts where its run of letters does: the whole run, here.
    expect(redactText(`${long}x://u:pw@h/db`)).toBe(`${long}x://u:${MASK}@h/db`)
    expect(redactText(`${long} postgres://u:pw@h/db`)).toBe(`${long} postgres://u:${MASK}@h/db`)
    expect(redactText(`${long}:${long}@`)).toBe(`${long}:${long}@`)
  })

  it('is idempotent and reports what it masked', () => {
    const found: string[] = []
    const once = redactText('postgres://u:s3cret@h/x?token=t0k&password=', found)
    expect(once).toBe('postgres://u:***@h/x?token=***&password=')
    expect(found).toEqual(['s3cret', 't0k'])
    expect(redactText('store postgres://u:***@h/x?password=***: connect refused')).toBe(
      'store postgres://u:***@h/x?password=***: connect refused',
    )
    const again: string[] = []
    expect(redactText(once, again)).toBe(once)
    expect(again).toEqual([])
  })
  it("reports a URL's password also percent-decoded, as a message may quote it", () => {
    const found: string[] = []
    expect(redactText('postgres://weird:Pa%40ss%3Aw%2Frd%3F%23Zq9@127.0.0.1:5432/db', found)).toBe('postgres://weird:***@127.0.0.1:5432/db')
    expect(found).toEqual(['Pa%40ss%3Aw%2Frd%3F%23Zq9', 'Pa@ss:w/rd?#Zq9'])
    expect(hideSecrets(found)('auth failed for Pa@ss:w/rd?#Zq9 here')).toBe('auth failed for *** here')
    const bad: string[] = []
    redactText('postgres://u:100%zz@h/db', bad)
    expect(bad).toEqual(['100%zz'])
  })
})

describe('hideSecrets', () => {
  it('masks each known secret wherever it is, then what redactText masks', () => {
    const hide = hideSecrets(['abcdef123', 'abc', 'abcdef'])
    expect(hide('token abcdef123 and abcdef, not abc; password=x')).toBe(`token ${MASK} and ${MASK}, not abc; password=${MASK}`)
  })
  it('masks the message and the stack of an error', () => {
    const error = hideInError(new Error('bad apiToken sekr3t-value'), hideSecrets(['sekr3t-value']))
    expect(error.message).toBe('bad apiToken ***')
    expect(error.stack).not.toContain('sekr3t-value')
  })
})
