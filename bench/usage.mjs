// Preloaded (node --import) into every benchmarked process: at exit it writes the
// process's own resource usage (peak RSS, CPU time) to $BENCH_USAGE_DIR/usage-<pid>.json.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.BENCH_USAGE_DIR
if (dir) {
  process.on('exit', () => {
    const u = process.resourceUsage()
    writeFileSync(join(dir, `usage-${process.pid}.json`), JSON.stringify({ maxRssKb: u.maxRSS, cpuUs: u.userCPUTime + u.systemCPUTime }))
  })
}
