import pino, { type Logger } from 'pino';

/**
 * A safety net under "never log a secret": whatever a log call is handed, these paths are censored.
 * Keys, tokens and secrets are replaced; a callback URL keeps its origin and path (useful for
 * debugging a delivery) but loses its query string and credentials, where receivers put tokens.
 */
const SECRET_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.cookie',
  '*.apiKey',
  'apiKey',
  'key',
  'api_key',
  '*.api_key',
  'secret',
  '*.secret',
  'webhookSecret',
  '*.webhookSecret',
  'token',
  '*.token',
  'password',
  '*.password',
  // The SDK logs an activity's task token, with which anyone who can reach Temporal could complete it.
  'taskToken',
  '*.taskToken',
];
const URL_PATHS = ['callback_url', '*.callback_url', 'callbackUrl', '*.callbackUrl'];
const URL_KEYS = new Set(['callback_url', 'callbackUrl']);

/** The censor for redacted paths: callback URLs are trimmed, anything else replaced. */
export function censor(value: unknown, path: string[]): unknown {
  if (URL_KEYS.has(path[path.length - 1] ?? '') && typeof value === 'string') {
    try {
      const u = new URL(value);
      return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?[redacted]' : ''}`;
    } catch {
      return '[redacted]';
    }
  }
  return '[redacted]';
}

/** Structured logs. Anything that could carry a key is redacted before it is written. */
export function createLogger(level: string, name = 'batchflow', destination?: pino.DestinationStream): Logger {
  const options = { name, level, redact: { paths: [...SECRET_PATHS, ...URL_PATHS], censor } };
  return destination ? pino(options, destination) : pino(options);
}
