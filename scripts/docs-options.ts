// `npm run docs:options`: makes the README's option tables again from the option specs
// (test/unit/cli/option-docs.test.ts fails while they differ).
import { readFileSync, writeFileSync } from 'node:fs'
import { readmeWithOptions } from '../src/cli/option-docs.js'

const path = new URL('../README.md', import.meta.url)
const readme = readFileSync(path, 'utf8')
const made = readmeWithOptions(readme)
if (made !== readme) writeFileSync(path, made)
console.log(made === readme ? 'README.md: the option tables are up to date' : 'README.md: option tables made again from the specs')
