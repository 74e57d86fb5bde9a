/** The example's files: $NDJSON_FILE (input, else examples/ndjson/data.ndjson) and $NDJSON_OUT (output dir, else examples/ndjson/out). */
import { fileURLToPath } from 'node:url'

export const INPUT = process.env.NDJSON_FILE ?? fileURLToPath(new URL('./data.ndjson', import.meta.url))
export const OUTPUT = process.env.NDJSON_OUT ?? fileURLToPath(new URL('./out', import.meta.url))
