/** What the use-case layer is built from (src/batches/index.ts, createBatches). */
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { RetryPolicies } from '../contracts/workflow';
import { DEFAULT_STALE_AFTER_MS } from '../db/retention';
import type { Database } from '../db/schema';
import type { HandleFor } from './handle';
import type { ProgressCache } from './progress-cache';
import type { RowCache } from './row-cache';
import type { Starter } from './start';

export interface BatchesDeps {
  db: Kysely<Database>;
  client: Client;
  log: Logger;
  taskQueue: string;
  namespace: string;
  uiUrl: string;
  retry: RetryPolicies;
  /** ALLOW_PRIVATE_CALLBACKS: accept callback URLs on private and loopback addresses (default false). */
  allowPrivateCallbacks?: boolean;
  /** STALE_BATCH_MINUTES: a queued or running batch older than this is reported stale (default 120). */
  staleAfterMinutes?: number;
  /**
   * WORKER_ACTIVITY_SLOTS: a worker process's activity slots on the normal queue, from which a
   * batch's default chunking is chosen (src/batches/chunking.ts; default 32). The API runs apart
   * from the workers, so it reads the same variable as they do rather than asking them.
   */
  workerSlots?: number;
  /** PROGRESS_POLL_MS: how often the one poller of a read batch asks its workflow (default 500). */
  progressPollMs?: number;
  /**
   * Batch rows kept for progress reads, fed by the database's change notifications
   * (row-cache.ts). Without it every read loads its row.
   */
  rows?: RowCache;
}

/** What a batch body needs beside the row (src/batches/view.ts). */
export interface ViewContext {
  base: string;
  namespace: string;
  staleAfterMs: number;
}

export const viewContextOf = (deps: BatchesDeps): ViewContext => ({
  base: deps.uiUrl,
  namespace: deps.namespace,
  staleAfterMs: (deps.staleAfterMinutes ?? DEFAULT_STALE_AFTER_MS / 60_000) * 60_000,
});

/** What each job of the layer receives: the deps, plus the parts index.ts builds once and shares. */
export interface JobDeps extends BatchesDeps {
  ui: ViewContext;
  handleFor: HandleFor;
  starter: Starter;
  progress: ProgressCache;
}
