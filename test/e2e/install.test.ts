// The package as users get it: `npm pack`, installed from the tarball into a fresh ESM
// project and a fresh CommonJS project (`npm init -y`), then a TypeScript and a JavaScript
// pair of modules run through the installed bins and through the library API. And the
// README's backfill with no code, as written, in a fresh project that installed the
// tarball and pg, against a real PostgreSQL.
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { ROOT, cleanTempDirs, fixture, tempDir } from '../helpers/proc.js'

const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string }

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `file` (a command, or a bin with its shebang) in `cwd` to its end. */
function exec(file: string, args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env: { ...process.env, TM_TOKEN: undefined, NODE_OPTIONS: undefined }, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr })
      },
    )
  })
}

/** Runs `file` and fails with its output unless it exits 0. */
async function must(file: string, args: string[], cwd: string): Promise<Result> {
  const result = await exec(file, args, cwd)
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`)
  return result
}

/** The failed-jobs log of run `key` in `dir`, as [key, error] pairs. */
function failedJobs(dir: string, key: string): [unknown, unknown][] {
  return readFileSync(join(dir, '.taskmaster', `${key}.failed.jsonl`), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { key: unknown; error: unknown })
    .map((entry) => [entry.key, entry.error])
}

type Kind = 'esm' | 'cjs'
const projects: Record<Kind, string> = { esm: '', cjs: '' }
/** What `npm install <tarball>` printed in each project. */
const installs: Record<Kind, string> = { esm: '', cjs: '' }
let files: string[] = []
/** The packed package. */
let tarball = ''

/** Scripts npm runs when a package is installed: the package builds on `prepack`, never on its users' machines. */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare']

beforeAll(async () => {
  const dir = tempDir('tm-install-')
  // The dist/ that `npm test` just built; --ignore-scripts so packing does not rebuild it.
  const packed = JSON.parse((await must('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT)).stdout) as {
    filename: string
    files: { path: string }[]
  }[]
  files = packed[0].files.map((f) => f.path).sort()
  tarball = join(dir, packed[0].filename)
  for (const kind of ['esm', 'cjs'] as const) {
    const project = tempDir(`tm-${kind}-project-`)
    projects[kind] = project
    if (kind === 'esm')
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'esm-project', version: '1.0.0', private: true, type: 'module' }))
    else await must('npm', ['init', '-y'], project)
    const installed = await must(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball],
      project,
    )
    installs[kind] = installed.stdout + installed.stderr
    for (const name of ['jobs.ts', 'flaky.ts', 'api.mjs', 'api.cjs', 'pg-jobs.ts'])
      copyFileSync(fixture(`installed/${name}`), join(project, name))
    for (const name of ['jobs', 'flaky']) copyFileSync(fixture(`installed/${name}.${kind}.js`), join(project, `${name}.js`))
  }
}, 240_000)

afterAll(cleanTempDirs)

describe('the packed package', () => {
  it('ships the bins, the compiled code and its types, README and package.json, nothing else', () => {
    const unexpected = files.filter(
      (path) => !/^(package\.json|README\.md|bin\/(tm-master|tm-slave|tm-ctl|start)\.js|dist\/.+\.(js|d\.ts))$/.test(path),
    )
    expect(unexpected).toEqual([])
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/tm-master.js',
        'bin/tm-slave.js',
        'bin/tm-ctl.js',
        'bin/start.js',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli/master-command.js',
        'dist/cli/slave-command.js',
        'dist/cli/ctl-command.js',
      ]),
    )
  })

  it("runs no script of its own when installed: no build on the users' machines, no warning about one", () => {
    const installed = JSON.parse(readFileSync(join(projects.esm, 'node_modules', PACKAGE.name, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>
    }
    expect(Object.keys(installed.scripts ?? {}).filter((name) => INSTALL_SCRIPTS.includes(name))).toEqual([])
    for (const kind of ['esm', 'cjs'] as const) {
      // npm names a package whose install scripts it runs or warns about as name@version.
      expect(installs[kind]).not.toContain(`${PACKAGE.name}@${PACKAGE.version}`)
      expect(installs[kind]).not.toMatch(/\btsc\b/)
    }
  })

  it('installs msgpackr with its native extension although the repository pins msgpackr-extract by overrides', async () => {
    const loaded = await must(
      'node',
      ['-e', "console.log(typeof require(require.resolve('msgpackr-extract', { paths: [require.resolve('msgpackr')] })).extractStrings)"],
      projects.esm,
    )
    expect(loaded.stdout).toBe('function\n')
  })
})

describe.each(['esm', 'cjs'] as const)('installed in a fresh %s project', (kind) => {
  const bin = (name: string): string => join(projects[kind], 'node_modules/.bin', name)
  /** The failed-jobs entries the flaky handler leaves: jobs 1, 3 and 5, each pointing at its own line. */
  const failures = (frame: string) =>
    [1, 3, 5].map((id) => [id, { message: `odd id ${id}`, stack: `Error: odd id ${id}\n    at handleJob (${frame}:3:31)` }])

  it('tm-master, tm-slave and tm-ctl print their version', async () => {
    for (const name of ['tm-master', 'tm-slave', 'tm-ctl'])
      expect((await must(bin(name), ['--version'], projects[kind])).stdout).toBe(`${PACKAGE.name} ${PACKAGE.version}\n`)
  })

  it('tm-master --spawn runs a TypeScript jobs module and handler; failures point at flaky.ts', async () => {
    const dir = projects[kind]
    const run = await exec(
      bin('tm-master'),
      ['jobs.ts', '--key', 'ts', '--host', '127.0.0.1:0', '--spawn', '1', '--handler', 'flaky.ts', '--retries', '0', '--quiet'],
      dir,
    )
    expect(run.code, run.stderr).toBe(1)
    expect(run.stdout).toMatch(/^Run 'ts' complete: 6 jobs \(3 done, 3 failed\)/m)
    expect(failedJobs(dir, 'ts')).toEqual(failures(join(dir, 'flaky.ts')))
  })

  it('tm-master and a tm-slave of their own run a JavaScript pair; failures point at flaky.js', async () => {
    const dir = projects[kind]
    const master = spawn(bin('tm-master'), ['jobs.js', '--key', 'js', '--host', '127.0.0.1:0', '--retries', '0', '--quiet'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    const host = await new Promise<string>((resolve, reject) => {
      master.stdout.setEncoding('utf8').on('data', (text: string) => {
        out += text
        const match = /Taskmaster server running on '([^']+)'/.exec(out)
        if (match) resolve(match[1])
      })
      master.on('exit', (code) => reject(new Error(`tm-master exited ${code}: ${out}`)))
    })
    const exited = new Promise<number | null>((resolve) => master.on('exit', (code) => resolve(code)))
    const slave = await exec(bin('tm-slave'), ['flaky.js', '--host', host], dir)
    expect(slave.code, slave.stderr).toBe(0)
    expect(await exited).toBe(1)
    expect(out).toMatch(/^Run 'js' complete: 6 jobs \(3 done, 3 failed\)/m)
    const path = join(dir, 'flaky.js')
    expect(failedJobs(dir, 'js')).toEqual(failures(kind === 'esm' ? pathToFileURL(path).href : path))
  })

  it('a jobs module that is one pgTable export, in a project without pg: one line saying to install it, before the first job', async () => {
    const run = await exec(
      bin('tm-master'),
      ['pg-jobs.ts', 'db=postgres://127.0.0.1:1/none', '--key', 'pg', '--host', '127.0.0.1:0', '--quiet'],
      projects[kind],
    )
    // pgTable's check says it before the master listens (it said it from the generator, exit 1).
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toBe(
      'tm-master: pgTable: a connection string needs the pg package (an optional peer dependency of taskmaster-run): npm install pg\n',
    )
    expect(run.stdout).toBe('')
    // total() leaves it to the generator: no warning saying it first.
    expect(run.stderr).not.toContain('total()')
  })

  it(`the library API (${kind === 'esm' ? 'import' : 'require'}) runs the TypeScript and the JavaScript pair`, async () => {
    const dir = projects[kind]
    const script = kind === 'esm' ? 'api.mjs' : 'api.cjs'
    for (const [jobs, handler, key] of [
      ['jobs.ts', 'flaky.ts', 'api-ts'],
      ['jobs.js', 'flaky.js', 'api-js'],
    ] as const) {
      const run = await must('node', [script, jobs, handler, key], dir)
      expect(run.stdout).toBe('{"outcome":"complete","done":3,"failed":3}\n')
      const path = join(dir, handler)
      expect(failedJobs(dir, key)).toEqual(failures(kind === 'esm' && handler === 'flaky.js' ? pathToFileURL(path).href : path))
    }
  })
})

/** The README's command of the backfill with no code, as written there. */
function readmeNoCode(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const line = readme.split('\n').find((text) => text.startsWith('npx tm-master taskmaster-run/pg/table '))
  if (line === undefined) throw new Error('README.md has no line starting npx tm-master taskmaster-run/pg/table')
  return line
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `the README's backfill with no code, in a fresh project with pg${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()
    const ROWS = 5000
    let project = ''

    beforeAll(async () => {
      project = tempDir('tm-no-code-project-')
      await must('npm', ['init', '-y'], project)
      const pgVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/pg/package.json'), 'utf8')) as { version: string }).version
      await must('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `pg@${pgVersion}`], project)
      // As examples/postgres/setup.ts makes it.
      await postgres.db.query('CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, domain text)')
      await postgres.db.query(
        `INSERT INTO users (id, email) SELECT 2 * g, 'user' || g || '@' || (ARRAY['example.com', 'Mail.example.org', 'EXAMPLE.net', 'corp.example'])[g % 4 + 1] FROM generate_series(1, ${ROWS}) AS g`,
      )
    }, 240_000)

    it('sets every row from the shell, exactly as the README writes the command', async () => {
      const command = readmeNoCode()
      const done = await new Promise<Result>((resolve) => {
        execFile(
          'bash',
          ['-c', command],
          {
            cwd: project,
            env: { ...process.env, TM_TOKEN: undefined, NODE_OPTIONS: undefined, DATABASE_URL: postgres.server.url },
            timeout: 120_000,
          },
          (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        )
      })
      expect(done.code, done.stderr).toBe(0)
      expect(done.stdout).toMatch(new RegExp(`^Run 'users-domain' complete: ${ROWS} jobs \\(${ROWS} done, 0 failed`, 'm'))
      const wrong = await postgres.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM users WHERE domain IS DISTINCT FROM lower(split_part(email, '@', 2))",
      )
      expect(wrong.rows[0].n).toBe(0)
      // The modules ran from the project's own copy of the package, not from this repository.
      expect(done.stdout + done.stderr).not.toContain(ROOT)
    })
  },
)
