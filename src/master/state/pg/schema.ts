import type { PgClient } from './client.js'

/** Held (per transaction) while creating a table or index, so two masters starting at once do not race on CREATE. */
const SCHEMA_LOCK = '7361766572756e31'

/** The object a `CREATE TABLE|INDEX IF NOT EXISTS <name>` statement makes, or undefined for another statement. */
function createdName(statement: string): string | undefined {
  return /^CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)/.exec(statement)?.[1]
}

/**
 * Makes the objects of `statements` that are missing, taking no lock when none is: the
 * catalog is read first, and a master starting beside running ones on a database where
 * the tables are runs no DDL (`CREATE INDEX IF NOT EXISTS` takes a SHARE lock on its
 * table even when the index is there, and waited on, and deadlocked with, the writes of
 * the running masters). A missing object is made in its own transaction, under an
 * advisory lock, after looking again: a transaction holds one table's lock at a time, so
 * it can wait for a running master's write but never close a cycle with it. A statement
 * that creates no named object (an ALTER) runs every time, alone in its transaction.
 */
export async function ensureSchema(client: PgClient, statements: readonly string[]): Promise<void> {
  const names = statements.map(createdName)
  const missing = async (): Promise<Set<string>> => {
    const known = names.filter((name): name is string => name !== undefined)
    const rows = (await client.query('SELECT name FROM unnest($1::text[]) AS t(name) WHERE to_regclass(name) IS NULL', [known])).rows
    return new Set(rows.map((row) => String(row.name)))
  }
  const absent = await missing()
  for (const [i, statement] of statements.entries()) {
    const name = names[i]
    if (name !== undefined && !absent.has(name)) continue
    await client.query('BEGIN')
    try {
      await client.query(`SELECT pg_advisory_xact_lock(x'${SCHEMA_LOCK}'::bigint)`)
      // Another master may have made it while this one waited for the advisory lock.
      if (name === undefined || (await missing()).has(name)) await client.query(statement)
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    }
  }
}
