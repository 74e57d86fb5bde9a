import { afterEach } from 'vitest'
import { cleanTempDirs } from './proc.js'

/**
 * Library masters and slaves a test file starts in its own process: push them on the
 * returned list and each is stopped at once after every test (stop() twice: the first is
 * graceful, the second does not wait), then the temp dirs are removed.
 */
export function stoppedAfterEach(): { stop(): void }[] {
  const running: { stop(): void }[] = []
  afterEach(() => {
    for (const peer of running.splice(0)) {
      peer.stop()
      peer.stop()
    }
    cleanTempDirs()
  })
  return running
}
