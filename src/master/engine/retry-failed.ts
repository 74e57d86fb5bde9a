import { OptionError } from '../../errors.js'
import type { JobSource, MasterOptions, ResolvedMasterOptions } from '../../options.js'
import { stateBackend } from '../state/state-backend.js'
import type { RetryPass } from '../state/state-store.js'

/**
 * Prepares the retry pass of the run `options` name (`--retry-failed`, see
 * {@link RetryPass}), a shard's included. Undefined, holding
 * nothing, when the run has no failed jobs. Refuses `reset` and `args`: the pass replays
 * the log, under arguments of its own.
 */
export async function prepareRetryPass(options: ResolvedMasterOptions): Promise<RetryPass | undefined> {
  if (options.reset)
    throw new OptionError('Master.retryFailed() replays the failed jobs of a run: options.reset does not go with it', 'reset')
  if (Object.keys(options.args).length > 0)
    throw new OptionError('Master.retryFailed() takes no options.args: the jobs come from the failed-jobs log', 'args')
  const backend = stateBackend({
    stateDir: options.stateDir,
    stateStore: options.stateStore,
    acceptJournalLoss: false,
    heartbeat: options.heartbeat,
  })
  // A shard's key is its own (the shard's suffix is in it): the pass replays its failed jobs without the shard's filter.
  return backend.retryPass(options.key)
}

/**
 * The options of the master that runs `pass`: the run's, but for the jobs (the pass's,
 * each keyed as the run keys it, resumed by position), the key and arguments (the pass's),
 * and no shard.
 */
export function retryOptions(options: MasterOptions, pass: RetryPass): MasterOptions {
  return { ...options, source: retrySource(pass, options.source.key), key: pass.key, args: pass.args, shard: undefined }
}

/** What a retry pass runs: the jobs of the pass, keyed as the run's (`key`), resuming by position. */
function retrySource(pass: RetryPass, key: JobSource['key']): JobSource {
  return { getJobs: (_last, ctx) => pass.jobs(ctx.position), key, total: pass.count }
}
