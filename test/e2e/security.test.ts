// Who may pull jobs, and what bad input does: only holders of the token get jobs;
// malformed, oversized or unauthenticated connections get a clear error and a closed
// connection while the run goes on; wss:// works with the master's certificate.
import { execFileSync } from 'node:child_process'
import { get } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import {
  SLAVE_BIN,
  expectEachKeyRan,
  expectUsageError,
  masterArgs,
  recordedKeys,
  run,
  sandbox,
  startMaster,
  startSlave,
  tempDir,
} from '../helpers/proc.js'
import {
  RANGE,
  RECORD,
  expectRunEnds,
  hello,
  linesMatching,
  rawExchange,
  recordedCount,
  seeded,
  tearDown,
  until,
  wire,
} from '../helpers/reliability.js'
import { matching } from '../helpers/matchers.js'

afterEach(tearDown)

const N = 50

/** The master's log lines about a refused connection from local port `port`. */
const closedLines = (stderr: string, port: number): string[] => linesMatching(stderr, new RegExp(`^Closed .*127\\.0\\.0\\.1:${port}\\b`))

describe('the token', () => {
  it('--token: a slave with the right token runs the jobs; a wrong or missing one exits 2 with one line', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'token'), '--token', 's3cret', '--quiet'], {
      env: box.env,
    })

    expectUsageError(await run(SLAVE_BIN, [RECORD, '--host', host, '--token', 'nope'], { env: box.env }), /token/, /the token is wrong/)
    expectUsageError(await run(SLAVE_BIN, [RECORD, '--host', host], { env: box.env }), /token/, /no token was given/)
    expect(recordedKeys(box.records)).toEqual([])
    // An unauthenticated peer is named by its address, not by what its hello claims.
    expect(linesMatching(master.stderr, /^Closed connection from 127\.0\.0\.1:\d+: Access refused: /)).toHaveLength(2)

    const slave = startSlave([RECORD, '--host', host, '--token', 's3cret'], { env: box.env })
    await expectRunEnds(master, [slave])
    expectEachKeyRan(box.records, N)
  })

  it('TM_TOKEN gives the token to master and slave', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'env-token'), '--quiet'], {
      env: { ...box.env, TM_TOKEN: 's3cret' },
    })

    expectUsageError(await run(SLAVE_BIN, [RECORD, '--host', host], { env: box.env }), /token/)
    const slave = startSlave([RECORD, '--host', host], { env: { ...box.env, TM_TOKEN: 's3cret' } })
    await expectRunEnds(master, [slave])
    expectEachKeyRan(box.records, N)
  })

  it('is generated and printed once by a master listening beyond loopback without --token', async () => {
    const box = sandbox()
    const { master, host } = await startMaster(
      [RANGE, `n=${N}`, '--key', 'open', '--state-dir', box.stateDir, '--host', '0.0.0.0:0', '--quiet'],
      { env: box.env },
    )
    const token = (await master.waitFor(/^Token \(give it to slaves with --token or TM_TOKEN\): (\S+)$/m, 'stdout'))[1]
    const local = host.replace(/^0\.0\.0\.0:/, '127.0.0.1:')

    expectUsageError(await run(SLAVE_BIN, [RECORD, '--host', local], { env: box.env }), /token/, /no token was given/)
    const slave = startSlave([RECORD, '--host', local, '--token', token], { env: box.env })
    await expectRunEnds(master, [slave])
    expectEachKeyRan(box.records, N)
    expect(master.stdout.split(token)).toHaveLength(2)
    expect(master.stderr).not.toContain(token)
  })
})

describe('bad input', () => {
  const random = seeded(20240601)
  /** Starts with 0xc1, a byte MessagePack never uses. */
  const garbage = Buffer.from([0xc1, ...Array.from({ length: 63 }, () => Math.floor(random() * 256))])
  const MAX_FRAME = 65536

  type Case = [name: string, send: (ws: WebSocket) => void, closeCode: number, error: { code: string; message: RegExp } | undefined]
  const cases: Case[] = [
    ['bytes that are not MessagePack', (ws) => ws.send(garbage), 1002, { code: 'TM_ERR_PROTOCOL', message: /not valid MessagePack/ }],
    ['MessagePack that is not a map', (ws) => ws.send(wire.pack([1, 2, 3])), 1002, { code: 'TM_ERR_PROTOCOL', message: /not a message/ }],
    [
      'a map of an unknown type',
      (ws) => ws.send(wire.pack({ type: 'gimme-jobs', n: 10 })),
      1002,
      { code: 'TM_ERR_PROTOCOL', message: /Unknown message type "gimme-jobs"/ },
    ],
    [
      'a hello of protocol version 99',
      (ws) => ws.send(hello({ version: 99, token: 's3cret' })),
      1002,
      { code: 'TM_ERR_PROTOCOL', message: /version 99/ },
    ],
    [
      'an ack before hello',
      (ws) => ws.send(wire.pack({ type: 'ack', ranges: [0, 1], credit: 1 })),
      1002,
      { code: 'TM_ERR_PROTOCOL', message: /hello/ },
    ],
    [
      'a text frame',
      (ws) => ws.send(JSON.stringify({ type: 'hello', version: 1 })),
      1003,
      { code: 'TM_ERR_PROTOCOL', message: /[Tt]ext frame/ },
    ],
    ['a frame larger than --max-frame', (ws) => ws.send(Buffer.alloc(MAX_FRAME + 1)), 1009, undefined],
    ['a hello with a wrong token', (ws) => ws.send(hello({ token: 'guess' })), 1008, { code: 'TM_ERR_AUTH', message: /token is wrong/ }],
  ]

  it('gets an error and a closed connection each, one log line each, while a slave works on; the run completes', async () => {
    const n = 300
    const box = sandbox({ TM_RECORD_DELAY_MS: '20' })
    const { master, host } = await startMaster(
      [RANGE, `n=${n}`, ...masterArgs(box, 'bad-input'), '--token', 's3cret', '--max-frame', String(MAX_FRAME), '--quiet'],
      { env: box.env },
    )
    const slave = startSlave([RECORD, '--host', host, '--token', 's3cret', '--concurrency', '2'], { env: box.env })
    await until('the slave to run jobs', () => recordedCount(box.records) > 0)

    const ports: number[] = []
    for (const [name, send, closeCode, error] of cases) {
      const outcome = await rawExchange(`ws://${host}`, send)
      expect(outcome.code, name).toBe(closeCode)
      expect(outcome.messages, name).toEqual(
        error === undefined ? [] : [{ type: 'error', code: error.code, message: matching(error.message) }],
      )
      await master.waitFor(new RegExp(`^Closed .*127\\.0\\.0\\.1:${outcome.localPort}\\b`, 'm'))
      ports.push(outcome.localPort)
    }
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      // Not / (the web page): a path with no route.
      get(`http://${host}/nothing-here`, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode!, body }))
      }).on('error', reject)
    })
    expect(response.status).toBe(426)
    expect(response.body).toMatch(/^[^\n]+\n$/)
    await master.waitFor(/^Refused a plain HTTP request \(GET \/nothing-here\) from 127\.0\.0\.1$/m)
    expect(master.child.exitCode, 'the run was still going when the bad input was done').toBeNull()

    await expectRunEnds(master, [slave])
    expectEachKeyRan(box.records, n)
    expect(slave.stderr).not.toMatch(/Lost the master/)
    for (const [i, port] of ports.entries()) expect(closedLines(master.stderr, port), cases[i][0]).toHaveLength(1)
    expect(linesMatching(master.stderr, /^Refused a plain HTTP request/)).toHaveLength(1)
  })

  it('refuses a frame of the byte 0xc1 (never used by MessagePack) as not MessagePack', async () => {
    const box = sandbox()
    const { host } = await startMaster([RANGE, 'n=1', ...masterArgs(box, 'c1'), '--quiet'], { env: box.env })
    const outcome = await rawExchange(`ws://${host}`, (ws) => ws.send(Buffer.from([0xc1])))
    expect(outcome.code).toBe(1002)
    expect(outcome.messages).toEqual([{ type: 'error', code: 'TM_ERR_PROTOCOL', message: matching(/not valid MessagePack/) }])
  })
})

describe('TLS', () => {
  it('serves wss:// with --tls-cert/--tls-key: a slave trusting the certificate (--ca) runs the jobs, one without fails', async () => {
    const dir = tempDir()
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')]
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-days',
        '1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    )
    const box = sandbox()
    const { master, host } = await startMaster(
      [RANGE, `n=${N}`, ...masterArgs(box, 'tls'), '--tls-cert', cert, '--tls-key', key, '--quiet'],
      { env: box.env },
    )

    const untrusting = await run(SLAVE_BIN, [RECORD, '--host', `wss://${host}`, '--reconnect', '1'], { env: box.env })
    expect(untrusting.exit.code, untrusting.stderr).not.toBe(0)
    expect(linesMatching(untrusting.stderr, /certificate/i), untrusting.stderr).toHaveLength(1)
    expect(recordedKeys(box.records)).toEqual([])

    const slave = startSlave([RECORD, '--host', `wss://${host}`, '--ca', cert], { env: box.env })
    await expectRunEnds(master, [slave])
    expect(slave.stderr).toContain(`Connected to the master at wss://${host}`)
    expectEachKeyRan(box.records, N)
    // The master's log names the peer whose handshake failed.
    expect(
      linesMatching(master.stderr, /^TLS handshake with /).filter((line) => !line.startsWith('TLS handshake with 127.0.0.1 ')),
    ).toEqual([])
  })
})
