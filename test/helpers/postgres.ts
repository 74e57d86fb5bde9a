// A throwaway PostgreSQL server for tests: initdb in a temp dir, pg_ctl start on a free
// port of 127.0.0.1, stop and remove afterwards. initdb and pg_ctl refuse to run as root,
// so as root they run as the `postgres` user (runuser), in a dir owned by it.
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

const PG_ROOT = '/usr/lib/postgresql'

/**
 * A TCP port free a moment ago on 127.0.0.1. PostgreSQL cannot be told to pick one itself
 * (no port 0), so the caller retries when another process took it in between.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** The bin dir holding initdb and pg_ctl (the newest version under /usr/lib/postgresql), or undefined. */
export function findPostgres(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin/pg_ctl')) && existsSync(join(PG_ROOT, v, 'bin/initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length === 0 ? undefined : join(PG_ROOT, versions[0], 'bin')
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export const POSTGRES_MISSING =
  findPostgres() === undefined
    ? `PostgreSQL is not installed (no ${PG_ROOT}/*/bin/pg_ctl): install Debian's postgresql package (.ci/run does)`
    : undefined

/** A running throwaway server. */
export interface Postgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication). */
  url: string
  port: number
  /** The server's log so far (errors such as `deadlock detected` are logged by default). */
  readLog: () => string
  /**
   * Restarts the server on the same port and data: `immediate` is a crash (no checkpoint,
   * every session cut, recovery from the WAL on start), `fast` a clean shutdown.
   */
  restart: (mode: 'immediate' | 'fast') => void
  /** Stops the server (immediate) and removes its dir. */
  stop: () => void
}

function asPostgresUser(bin: string, args: string[]): void {
  const root = process.getuid?.() === 0
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args]
  execFileSync(file, argv, { stdio: 'pipe', cwd: tmpdir() })
}

/** Starts a throwaway server (retrying on a port taken between probe and bind). */
export async function startPostgres(): Promise<Postgres> {
  const bin = findPostgres()
  if (bin === undefined) throw new Error(POSTGRES_MISSING)
  const dir = mkdtempSync(join(tmpdir(), 'tm-pg-'))
  const data = join(dir, 'data')
  try {
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
      chownSync(dir, uid, gid)
    }
    asPostgresUser(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      // Autovacuum off: the planner's estimates (total()) stay what the test's ANALYZE made them.
      const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c autovacuum=off`
      try {
        asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-o', settings, '-l', join(dir, 'log'), '-w', 'start'])
      } catch (error) {
        if (attempt < 3) continue
        const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '(no log)'
        throw new Error(`pg_ctl start failed 3 times: ${(error as Error).message}\nserver log:\n${log}`)
      }
      const log = join(dir, 'log')
      const readLog = (): string => (existsSync(log) ? readFileSync(log, 'utf8') : '')
      const stop = () => {
        try {
          asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'])
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
      const restart = (mode: 'immediate' | 'fast') => {
        asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop'])
        asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-o', settings, '-l', log, '-w', 'start'])
      }
      return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, readLog, stop, restart }
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

/**
 * For a describe block: a throwaway server started before its tests, with a connected
 * client, both stopped after them. Read `server` and `db` inside the tests (not before).
 */
export function usePostgres(): { readonly server: Postgres; readonly db: pg.Client } {
  const held: { server?: Postgres; db?: pg.Client } = {}
  beforeAll(async () => {
    held.server = await startPostgres()
    held.db = new pg.Client(held.server.url)
    // A test that restarts the server cuts this connection: an error of its next use, not of the test process.
    held.db.on('error', () => {})
    await held.db.connect()
  })
  afterAll(async () => {
    await held.db?.end()
    held.server?.stop()
  })
  return {
    get server(): Postgres {
      if (held.server === undefined) throw new Error('usePostgres: the server is read before its beforeAll ran')
      return held.server
    },
    get db(): pg.Client {
      if (held.db === undefined) throw new Error('usePostgres: the client is read before its beforeAll ran')
      return held.db
    },
  }
}
