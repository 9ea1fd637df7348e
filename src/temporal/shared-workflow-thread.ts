/**
 * One workflow thread for both of a process's workers (normal and express queues).
 *
 * Each SDK Worker runs its workflows in a worker thread of its own (a Node environment, a V8
 * isolate and the compiled bundle: ~40 MiB of RSS each, measured). A worker process runs two
 * Workers with the same bundle and the same activities, so the second thread bought nothing but
 * memory: the workflows are a few per batch and their tasks take milliseconds. Here the Worker
 * class is extended at its documented extension point (the protected static
 * createWorkflowCreator) so that every Worker made by one sharer uses the first one's thread. The
 * thread keeps each workflow by run id, so the two queues' workflows never meet; the thread is
 * destroyed when the last Worker using it has stopped.
 *
 * A Worker whose bundle or workflow-thread options differ from the first's gets a thread of its
 * own, as it would without the sharer.
 */
import { Worker } from '@temporalio/worker';
import type { CompiledWorkerOptions } from '@temporalio/worker';
import type { WorkflowCreator } from '@temporalio/worker/lib/workflow/interface';
import type { WorkflowBundleWithSourceMapAndFilename } from '@temporalio/worker/lib/workflow/workflow-worker-thread/input';
import type { Logger } from '@temporalio/common';

/** What makes two Workers' workflow threads interchangeable. */
const threadKey = (bundle: WorkflowBundleWithSourceMapAndFilename, o: CompiledWorkerOptions): string =>
  JSON.stringify([
    o.workflowThreadPoolSize,
    o.isolateExecutionTimeoutMs,
    o.reuseV8Context,
    o.debugMode,
    o.patchActivationCallback !== undefined,
  ]);

interface Shared {
  key: string;
  code: string;
  activities: string;
  creator: Promise<WorkflowCreator>;
  users: number;
}

export interface WorkflowThreadSharer {
  /** Use instead of Worker: Worker.create, with the workflow thread shared. */
  Worker: typeof Worker;
  /** Workflow threads started by this sharer so far (1 when sharing worked). */
  threads(): number;
}

export function shareWorkflowThread(): WorkflowThreadSharer {
  let shared: Shared | undefined;
  let started = 0;

  class SharedThreadWorker extends Worker {
    protected static override async createWorkflowCreator(
      bundle: WorkflowBundleWithSourceMapAndFilename,
      options: CompiledWorkerOptions,
      logger: Logger,
    ): Promise<WorkflowCreator> {
      const key = threadKey(bundle, options);
      const activities = [...options.activities.keys()].sort().join('\n');
      if (shared && (shared.key !== key || shared.code !== bundle.code || shared.activities !== activities)) {
        started++;
        return super.createWorkflowCreator(bundle, options, logger);
      }
      if (!shared) {
        started++;
        shared = { key, code: bundle.code, activities, creator: super.createWorkflowCreator(bundle, options, logger), users: 0 };
      }
      const mine = shared;
      let creator: WorkflowCreator;
      try {
        creator = await mine.creator;
      } catch (err) {
        // A thread that failed to start is not kept for the next Worker.
        if (shared === mine) shared = undefined;
        throw err;
      }
      mine.users++;
      let destroyed = false;
      return {
        createWorkflow: (o) => creator.createWorkflow(o),
        destroy: async () => {
          if (destroyed) return;
          destroyed = true;
          if (--mine.users > 0) return;
          if (shared === mine) shared = undefined;
          await creator.destroy();
        },
      };
    }
  }

  return { Worker: SharedThreadWorker, threads: () => started };
}
