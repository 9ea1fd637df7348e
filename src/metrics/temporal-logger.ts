/**
 * The Temporal Runtime's logger, over pino: activity and workflow log lines (`log.info(...)` in an
 * activity, with the batchId/stage/chunk the metrics interceptor adds) become structured JSON at
 * the app's LOG_LEVEL, and so do the SDK's lines about one activity or workflow (at debug: started,
 * completed). The rest of its chatter (worker state, bundler, Core) only matters when something
 * is wrong, so it is kept at warn and above, as before.
 */
import type { Logger as Pino } from 'pino';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/worker';

const RANK: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };
const OURS = new Set(['activity', 'workflow']);

export function temporalLogger(pino: Pino): Logger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    const component = meta?.sdkComponent;
    // The SDK's lines about one activity or workflow (started, completed, failed) are about our work too.
    const ours = (typeof component === 'string' && OURS.has(component)) || meta?.activityId !== undefined || meta?.workflowId !== undefined;
    if (!ours && RANK[level] < RANK.WARN) return;
    const method =
      level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : level === 'INFO' ? 'info' : level === 'WARN' ? 'warn' : 'error';
    pino[method]({ ...meta }, message);
  };
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}
