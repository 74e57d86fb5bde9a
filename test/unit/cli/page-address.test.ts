import { describe, expect, it } from 'vitest'
import { pageLine } from '../../../src/cli/page-address.js'

const at = (host: string, port = 5050) => ({ host, port, hostPort: `${host}:${port}`, url: `ws://${host}:${port}` })
const TERMINAL = { tls: false, terminal: true }

describe('pageLine', () => {
  it('links the page with its token on a terminal, on loopback or under TLS', () => {
    expect(pageLine(at('127.0.0.1'), 'a b', TERMINAL)).toBe('Status page: http://127.0.0.1:5050/?token=a%20b')
    expect(pageLine(at('::1'), 't', TERMINAL)).toBe('Status page: http://[::1]:5050/?token=t')
    expect(pageLine(at('10.0.0.5'), 't', { tls: true, terminal: true })).toBe('Status page: https://10.0.0.5:5050/?token=t')
    expect(pageLine(at('0.0.0.0'), 't', { tls: true, terminal: true, machine: 'box' })).toBe('Status page: https://box:5050/?token=t')
  })

  it('never prints the token off loopback without TLS, and says why', () => {
    const why =
      "Status page: http://10.0.0.5:5050/ (add ?token=<the run's token>: a master listening beyond loopback without TLS never prints its token in a link)"
    expect(pageLine(at('10.0.0.5'), 's3cret', TERMINAL)).toBe(why)
    expect(pageLine(at('10.0.0.5'), 's3cret', { tls: false, terminal: false })).toBe(why)
    expect(pageLine(at('::'), 's3cret', { tls: false, terminal: true, machine: 'box' })).toBe(why.replace('10.0.0.5', 'box'))
  })

  it('never prints the token into a log (output that is not a terminal), and says why', () => {
    expect(pageLine(at('127.0.0.1'), 's3cret', { tls: false, terminal: false })).toBe(
      "Status page: http://127.0.0.1:5050/ (add ?token=<the run's token>: the link holds the token only on a terminal, never in a log)",
    )
    expect(pageLine(at('10.0.0.5'), 's3cret', { tls: true, terminal: false })).not.toContain('s3cret')
  })

  it('is the bare address for a master without a token', () => {
    expect(pageLine(at('127.0.0.1'), undefined, { tls: false, terminal: false })).toBe('Status page: http://127.0.0.1:5050/')
  })
})
