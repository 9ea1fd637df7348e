import pino, { type Logger } from 'pino';

/** Structured logs. Anything that could carry a key is redacted before it is written. */
export function createLogger(level: string, name = 'batchflow'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]', '*.apiKey', 'apiKey', 'key'],
      censor: '[redacted]',
    },
  });
}
