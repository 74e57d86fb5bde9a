/**
 * A composite key (`key: ['tenant_id', 'id']`) as one job key. The master keeps numbers,
 * strings and bigints as keys, so a row's tuple becomes a canonical string: the JSON array
 * of its values, int8 values as their decimal digits (pg returns them as strings already;
 * a bigint is written the same way), so every digit survives the checkpoint. On resume the
 * string is read back into the values the row comparison `(a, b) > ($1, $2)` is given.
 */
import { JobSourceError } from '../errors.js'
import type { JobKey } from '../options.js'
import { oneLine, typeName } from '../user-code.js'

/** A value of a composite key as it goes back to PostgreSQL as a parameter. */
export type TuplePart = string | number | boolean

function part(value: unknown, column: string): TuplePart {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(value)) return value
      break
    case 'bigint':
      return value.toString()
  }
  // A timestamp (a Date, to the millisecond) could not give back the microseconds it came with.
  const what =
    value === null || value === undefined ? 'NULL (or not selected)' : typeof value === 'number' ? String(value) : typeName(value)
  throw new JobSourceError(
    `pgTable: key column ${column} of a row is ${what}; each column of a composite key must be a NOT NULL integer, text or boolean column`,
  )
}

/** The job key of a row's composite key, its `columns` in order: `["acme","9007199254740993"]`. */
export function encodeTuple(row: Record<string, unknown>, columns: readonly string[]): string {
  return JSON.stringify(columns.map((column) => part(row[column], column)))
}

/**
 * The values of a composite key from its job key (`last` on resume), in column order.
 * Anything else (a run started with another key) is one line saying so.
 */
export function decodeTuple(key: JobKey, columns: readonly string[]): TuplePart[] {
  let parts: unknown
  try {
    parts = typeof key === 'string' ? JSON.parse(key) : undefined
  } catch {
    parts = undefined
  }
  const fits =
    Array.isArray(parts) &&
    parts.length === columns.length &&
    parts.every((p) => typeof p === 'string' || typeof p === 'boolean' || (typeof p === 'number' && Number.isFinite(p)))
  if (!fits) {
    const shown = typeof key === 'string' ? `'${oneLine(key, 80)}'` : String(key)
    throw new JobSourceError(
      `pgTable: cannot resume after key ${shown}: it is not a key of (${columns.join(', ')}) (a JSON array of ${columns.length} values); was the run started with another key? Give it another --key, or --reset it`,
    )
  }
  return parts as TuplePart[]
}
