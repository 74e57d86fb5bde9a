import { writeSync } from 'node:fs'

/** Writes every byte of `data` at the file's position (a single write may write fewer). */
export function writeAllSync(fd: number, data: Uint8Array): void {
  let written = 0
  while (written < data.length) written += writeSync(fd, data, written)
}
