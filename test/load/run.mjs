#!/usr/bin/env node
// npm run test:load [-- --runs N] [-- vitest args]: the whole suite while a load generator
// keeps every core busy (one spinning process per core, at normal priority), as on a
// shared CI machine. Runs the suite N times in a row (default 1) and stops at the first
// failure; exits with the suite's status.
import { spawn, spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'

const args = process.argv.slice(2)
let runs = 1
const at = args.indexOf('--runs')
if (at >= 0) {
  runs = Number(args[at + 1])
  args.splice(at, 2)
  if (!Number.isInteger(runs) || runs < 1) {
    console.error('--runs must be an integer >= 1')
    process.exit(2)
  }
}

const burners = Array.from({ length: availableParallelism() }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
const stopBurners = () => {
  for (const burner of burners) burner.kill('SIGKILL')
}
process.on('exit', stopBurners)
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130))

console.log(`test:load: ${burners.length} spinning processes keep every core busy`)
const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)
let status = 0
for (let run = 1; run <= runs && status === 0; run++) {
  console.log(`test:load: run ${run} of ${runs}`)
  status = spawnSync('npx', ['vitest', 'run', ...args], { stdio: 'inherit' }).status ?? 1
}
console.log(status === 0 ? `test:load: ${runs} of ${runs} runs passed under load` : 'test:load: a run failed under load')
process.exit(status)
