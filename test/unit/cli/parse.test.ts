import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from 'commander'
import { describe, expect, it } from 'vitest'
import { hostPort, listenAddress, nameValueArgs, readCa } from '../../../src/cli/parse.js'
import { OptionError } from '../../../src/errors.js'

describe('hostPort', () => {
  it('splits host:port and fills missing parts from the defaults', () => {
    expect(hostPort('example.com:8080')).toEqual({ host: 'example.com', port: 8080 })
    expect(hostPort('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 })
    expect(hostPort('5050')).toEqual({ host: '127.0.0.1', port: 5050 })
    expect(hostPort('9000')).toEqual({ host: '127.0.0.1', port: 9000 })
    expect(hostPort('example.com')).toEqual({ host: 'example.com', port: 5050 })
    expect(hostPort('example.com:')).toEqual({ host: 'example.com', port: 5050 })
    expect(hostPort(':6000')).toEqual({ host: '127.0.0.1', port: 6000 })
    expect(hostPort('h', { host: 'x', port: 1 })).toEqual({ host: 'h', port: 1 })
    expect(hostPort('7', { host: 'x', port: 1 })).toEqual({ host: 'x', port: 7 })
  })

  it('reads bracketed IPv6 addresses', () => {
    expect(hostPort('[::1]:5050')).toEqual({ host: '::1', port: 5050 })
    expect(hostPort('[::]:0')).toEqual({ host: '::', port: 0 })
    expect(hostPort('[fe80::1]')).toEqual({ host: 'fe80::1', port: 5050 })
  })

  it('refuses ports that are not 0 to 65535', () => {
    for (const bad of ['h:65536', 'h:-1', 'h:abc', 'h:1.5', '[::1]:70000', '99999']) {
      expect(() => hostPort(bad)).toThrow(InvalidArgumentError)
      expect(() => hostPort(bad)).toThrow(`must be host:port with a port from 0 to 65535, got '${bad}'`)
    }
  })

  it('listenAddress is hostPort with the master defaults', () => {
    expect(listenAddress('0.0.0.0')).toEqual({ host: '0.0.0.0', port: 5050 })
  })
})

describe('nameValueArgs', () => {
  it('reads name=value words, keeping = in values', () => {
    expect(nameValueArgs([])).toEqual({})
    expect(nameValueArgs(['n=10', 'table=posts', 'empty=', 'expr=a=b'])).toEqual({ n: '10', table: 'posts', empty: '', expr: 'a=b' })
    expect(nameValueArgs(['n=1', 'n=2'])).toEqual({ n: '2' })
  })

  it('refuses words without a name, naming the word', () => {
    for (const bad of ['plain', '=value', '']) {
      expect(() => nameValueArgs(['ok=1', bad])).toThrow(OptionError)
      expect(() => nameValueArgs(['ok=1', bad])).toThrow(`Arguments after the module must be name=value, got '${bad}'`)
    }
  })
})

describe('readCa', () => {
  it('reads the file of --ca, gives undefined without it, and names a file it cannot read', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-ca-')), 'ca.pem')
    writeFileSync(file, 'PEM')
    expect(readCa(file)?.toString()).toBe('PEM')
    expect(readCa(undefined)).toBeUndefined()
    const missing = join(tmpdir(), 'tm-no-such-ca.pem')
    expect(() => readCa(missing)).toThrow(OptionError)
    expect(() => readCa(missing)).toThrow(`Cannot read --ca '${missing}': ENOENT: no such file or directory, open '${missing}'`)
  })
})
