import { describe, expect, it } from 'vitest'
import { JobSourceError, OptionError } from '../../../src/errors.js'
import { reading } from '../../../src/pg/reading.js'

/** A database error as pg makes one: a message and a SQLSTATE. */
const pgError = (message: string, code: string): Error => Object.assign(new Error(message), { code })

describe("pgTable's reads", () => {
  it('read again after a server restarting or a lost connection, and give what the read gave', async () => {
    const failures = [
      pgError('the database system is starting up', '57P03'),
      pgError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    ]
    let calls = 0
    const rows = await reading('users', () => {
      calls++
      const failure = failures.shift()
      return failure === undefined ? Promise.resolve([{ id: 1 }]) : Promise.reject(failure)
    })
    expect(rows).toEqual([{ id: 1 }])
    expect(calls).toBe(3)
  })

  it('fail in one line naming the table for any other error, at once, with its hint', async () => {
    let calls = 0
    const error = Object.assign(pgError('invalid input syntax for type integer: ""', '22P02'), { hint: 'Look at where=.' })
    await expect(
      reading('users', () => {
        calls++
        return Promise.reject(error)
      }),
    ).rejects.toThrow(new JobSourceError('pgTable: cannot read table users: invalid input syntax for type integer: "" (Look at where=.)'))
    expect(calls).toBe(1)
  })

  it('give up on a passing failure that lasts, and let their own errors through as they are', async () => {
    await expect(reading('t', () => Promise.reject(pgError('the database system is starting up', '57P03')), 0)).rejects.toThrow(
      new JobSourceError('pgTable: cannot read table t: the database system is starting up'),
    )
    const own = new OptionError('pgTable: something of its own', 'key')
    await expect(reading('t', () => Promise.reject(own))).rejects.toBe(own)
  })
})
