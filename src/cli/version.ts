import { readFileSync } from 'node:fs'

/**
 * The package's name and version, read from its package.json (two levels above
 * dist/cli/ and src/cli/ alike), so `--version` cannot drift from what was installed.
 */
export const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  readonly name: string
  readonly version: string
}
