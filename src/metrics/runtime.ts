/**
 * Runtime.install for the processes that run workers (`npm start`, `npm run worker`): the SDK's
 * logs through pino (./temporal-logger), and Core's metrics on a loopback port (./core). Signals
 * are ours: shutdown stops the API before the worker, and the worker before the database.
 */
import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { coreMetrics } from './temporal-core';
import { temporalLogger } from './temporal-logger';

/** Answers the Core metrics URL to proxy into /metrics, if Core exports any. */
export async function installRuntime(config: Pick<Config, 'metrics'>, log: Logger): Promise<string | undefined> {
  const core = await coreMetrics(config);
  Runtime.install({ logger: temporalLogger(log), shutdownSignals: [], ...(core ? { telemetryOptions: core.telemetryOptions } : {}) });
  return core?.url;
}
