import { OptionError } from '../../errors.js'
import type { JobSource, MasterOptions, ResolvedMasterOptions } from '../../options.js'
import { stateBackend } from '../state/state-backend.js'
import type { RetryPass } from '../state/state-store.js'
import { RETRY_LOG_ARG } from '../state/store-common.js'

/**
 * Prepares the retry pass of the run `options` name (`--retry-failed`, see
 * {@link RetryPass}), a shard's included, with the arguments given (those its handler
 * needs: usually the run's own), saved as the pass's. Undefined, holding nothing, when the
 * run has no failed jobs. Refuses `reset`: the pass replays the log.
 */
export async function prepareRetryPass(options: ResolvedMasterOptions): Promise<RetryPass | undefined> {
  if (options.reset)
    throw new OptionError('Master.retryFailed() replays the failed jobs of a run: options.reset does not go with it', 'reset')
  if (Object.hasOwn(options.args, RETRY_LOG_ARG))
    throw new OptionError(
      `options.args must not name an argument '${RETRY_LOG_ARG}': it is where a retry pass saves its jobs' place`,
      'args',
    )
  const backend = stateBackend({
    stateDir: options.stateDir,
    stateStore: options.stateStore,
    acceptJournalLoss: false,
    heartbeat: options.heartbeat,
  })
  // A shard's key is its own (the shard's suffix is in it): the pass replays its failed jobs without the shard's filter.
  return backend.retryPass(options.key, options.shownArgs)
}

/**
 * The options of the master that runs `pass`: the run's, but for the jobs (the pass's,
 * each keyed as the run keys it, resumed by position), the key, the arguments (those given,
 * and where the pass's jobs are) and no shard.
 */
export function retryOptions(options: MasterOptions, pass: RetryPass): MasterOptions {
  const args = { ...options.args, [RETRY_LOG_ARG]: pass.args[RETRY_LOG_ARG] }
  return { ...options, source: retrySource(pass, options.source), key: pass.key, args, shard: undefined }
}

/**
 * What a retry pass runs: the jobs of the pass, keyed as the run's source keys them,
 * resuming by position; checked (its database, its table) and throttled as the run's source
 * would be.
 */
function retrySource(pass: RetryPass, source: JobSource): JobSource {
  return {
    getJobs: (_last, ctx) => pass.jobs(ctx.position),
    key: source.key,
    total: pass.count,
    check: source.check,
    throttle: source.throttle,
    module: source.module,
  }
}
