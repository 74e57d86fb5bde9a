// Network namespaces for the partition tests: slaves in a namespace of their own, joined
// to the root namespace by a veth pair on a private /30, and a link a test can cut and
// restore. Everything is created per test file and removed by removeLink, even after a
// failure. Needs root and `ip netns`; netnsUnavailable() says why not where they lack.
import { execFileSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { Proc, SLAVE_BIN } from './proc.js'

/** A namespace and the veth pair that joins it to the root namespace. */
export interface NetnsLink {
  /** The namespace's name (`tm-<hex>`). */
  ns: string
  /** The veth end in the root namespace (the one cut and restored). */
  rootEnd: string
  /** The veth end inside the namespace. */
  nsEnd: string
  /** Address of the root end: where the master listens. */
  rootAddress: string
  /** Address of the namespace's end. */
  nsAddress: string
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/** Why namespaces cannot be used on this machine (not root, `ip netns` fails), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root'
  const probe = `tm-probe-${randomBytes(3).toString('hex')}`
  try {
    ip('netns', 'add', probe)
    ip('netns', 'del', probe)
    return undefined
  } catch (error) {
    return `ip netns does not work here: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`
  }
}

/** A /30 of 10.0.0.0/8 picked at random, none of whose addresses this machine uses or routes. */
function freeSubnet(): [string, string] {
  const used = ip('-4', '-o', 'addr', 'show') + ip('-4', 'route', 'show', 'table', 'all')
  for (;;) {
    const prefix = `10.${randomInt(256)}.${randomInt(256)}.`
    const base = randomInt(64) * 4
    if (!used.includes(prefix)) return [`${prefix}${base + 1}`, `${prefix}${base + 2}`]
  }
}

/** Creates a namespace joined to the root namespace by a veth pair, both ends up with their addresses. */
export function createLink(): NetnsLink {
  const id = randomBytes(4).toString('hex')
  const [rootAddress, nsAddress] = freeSubnet()
  const link: NetnsLink = { ns: `tm-${id}`, rootEnd: `tmr${id}`, nsEnd: `tms${id}`, rootAddress, nsAddress }
  try {
    ip('netns', 'add', link.ns)
    ip('link', 'add', link.rootEnd, 'type', 'veth', 'peer', 'name', link.nsEnd)
    ip('link', 'set', link.nsEnd, 'netns', link.ns)
    ip('addr', 'add', `${rootAddress}/30`, 'dev', link.rootEnd)
    ip('link', 'set', link.rootEnd, 'up')
    ip('netns', 'exec', link.ns, 'ip', 'addr', 'add', `${nsAddress}/30`, 'dev', link.nsEnd)
    ip('netns', 'exec', link.ns, 'ip', 'link', 'set', link.nsEnd, 'up')
    ip('netns', 'exec', link.ns, 'ip', 'link', 'set', 'lo', 'up')
  } catch (error) {
    removeLink(link)
    throw error
  }
  return link
}

/** Cuts the link (the root end down: nothing crosses, no reset is sent either way) or restores it. */
export function setLink(link: NetnsLink, up: boolean): void {
  ip('link', 'set', link.rootEnd, up ? 'up' : 'down')
}

/**
 * Removes what createLink made: kills (-9) the processes still in the namespace (only
 * this test's slaves live there), deletes the veth pair and the namespace. Each step is
 * tried even if one before failed.
 */
export function removeLink(link: NetnsLink): void {
  const steps = [
    () => {
      for (const pid of ip('netns', 'pids', link.ns).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL')
    },
    () => ip('link', 'del', link.rootEnd),
    () => ip('netns', 'del', link.ns),
  ]
  for (const step of steps) {
    try {
      step()
    } catch {
      // Already gone (never created, or removed with the namespace).
    }
  }
}

/**
 * A tm-slave started inside namespace `ns` (`ip netns exec <ns> node bin/tm-slave.js ...`:
 * ip execs node, so the child's pid is the slave's).
 */
export function startNetnsSlave(ns: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return new Proc(SLAVE_BIN, args, { env, wrapper: ['ip', 'netns', 'exec', ns] })
}
