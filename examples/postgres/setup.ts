/**
 * Creates the example's table if it is missing: `users` with `rows=N` rows (default
 * 1,000,000) whose `domain` column is to be backfilled from `email`. generate_series fills
 * it inside PostgreSQL, so a million rows take seconds, not a million round trips.
 *   npx tsx examples/postgres/setup.ts db=env:DATABASE_URL rows=1000000
 * As tm-master does, `db=env:NAME` reads the connection string from the environment variable
 * NAME (keeping its password off the command line), and `db=postgres://...` takes it as is.
 */
import pg from 'pg'

const fromEnv = (value: string): string | undefined => (value.startsWith('env:') ? process.env[value.slice(4)] : value)
const args = Object.fromEntries(process.argv.slice(2).map((word) => [word.slice(0, word.indexOf('=')), fromEnv(word.slice(word.indexOf('=') + 1))]))
const rows = Number(args.rows ?? 1_000_000)
if (args.db === undefined || !Number.isSafeInteger(rows) || rows < 1) {
  console.error('Usage: tsx examples/postgres/setup.ts db=env:DATABASE_URL|postgres://user@host:port/database [rows=1000000] (DATABASE_URL set)')
  process.exit(2)
}

const db = new pg.Client(args.db)
await db.connect()
try {
  const exists = (await db.query("SELECT to_regclass('users') IS NOT NULL AS found")).rows[0].found as boolean
  if (exists) {
    console.log('Table users exists; drop it to start over')
  } else {
    // bigint ids, as a big table has: pg returns them as strings, pgTable turns them into bigint keys.
    await db.query('CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, domain text)')
    // Ids with gaps (2, 4, 6...), as a real table has after deletes: keyset paging does not care.
    await db.query(
      `INSERT INTO users (id, email)
       SELECT 2 * g, 'user' || g || '@' || (ARRAY['example.com', 'Mail.example.org', 'EXAMPLE.net', 'corp.example'])[g % 4 + 1]
       FROM generate_series(1, $1::int) AS g`,
      [rows],
    )
    // Fresh statistics: the jobs module's total() reads the planner's estimate, not count(*).
    await db.query('ANALYZE users')
    console.log(`Created table users with ${rows} rows`)
  }
} finally {
  await db.end()
}
