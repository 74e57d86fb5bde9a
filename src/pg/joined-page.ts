/**
 * A page of keys as one row: a walk that selects only its integer key column reads each
 * page after the first as `2,4,6` (`string_agg` of the page, see sql.ts) and makes it back
 * into the rows a page of rows gives, `{ id: '2' }`. pg parses one message a page instead
 * of one a row, which was a third of the master's CPU on such a walk.
 */

/** pg's type id of int8 (bigint, bigserial). */
export const INT8_OID = 20
/** pg's type ids of int2 and int4 (smallint, integer, serial). */
const INT2_OID = 21
const INT4_OID = 23

/**
 * How a key of a joined page (text) becomes what pg gave for it on a page of rows, for an
 * integer column: its digits for int8, a number for int2 and int4 (pg's default parsers);
 * undefined for anything else, which keeps to pages of rows.
 */
export function joinedKeys(type: number | undefined, value: unknown): ((text: string) => unknown) | undefined {
  if (type === INT8_OID && typeof value === 'string') return (text) => text
  if ((type === INT2_OID || type === INT4_OID) && typeof value === 'number') return Number
  return undefined
}

/** The rows of a joined page: `{ [column]: key }` for each key of `text` (`2,4,6`). */
export function rowsOf(text: string, column: string, parse: (text: string) => unknown): Record<string, unknown>[] {
  const parts = text.split(',')
  const rows = new Array<Record<string, unknown>>(parts.length)
  for (let i = 0; i < parts.length; i++) {
    const row: Record<string, unknown> = {}
    row[column] = parse(parts[i])
    rows[i] = row
  }
  return rows
}
