// Runs the Temporal dev server (a child process of the SDK's native runtime)
// for embedded mode and the test suite.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { resolveTemporalCli } from './cli';
import { ALL_SEARCH_ATTRIBUTES } from './search-attributes';

export interface DevServer {
  /** host:port for NativeConnection.connect / Connection.connect. */
  address: string;
  namespace: string;
  uiUrl: string | null;
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
}

const DEFAULT_UI_PORT = 8233; // the CLI's usual UI port, so bookmarks keep working

// Workflows continue-as-new when the server suggests it. 4096 events equals
// the server 1.29 default, so this pins the threshold our bounded-history
// design relies on rather than changing it: a CLI bump can't move it silently.
const DYNAMIC_CONFIG = ['limit.historyCount.suggestContinueAsNew=4096'];

export async function startDevServer(
  opts: { dbFilename?: string; port?: number; ui?: boolean; uiPort?: number; log?: (line: string) => void } = {},
): Promise<DevServer> {
  const log = opts.log ?? (() => {});
  const executable = await resolveTemporalCli({ log });
  // The CLI won't create missing directories for its sqlite file.
  if (opts.dbFilename) await fs.mkdir(path.dirname(path.resolve(opts.dbFilename)), { recursive: true });

  const ui = opts.ui ?? false;
  const uiPort = ui ? (opts.uiPort ?? DEFAULT_UI_PORT) : undefined;
  const started = Date.now();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable,
      // Without a file the server is in-memory and every batch is lost on restart.
      dbFilename: opts.dbFilename ? path.resolve(opts.dbFilename) : undefined,
      port: opts.port,
      ui,
      uiPort,
      searchAttributes: [...ALL_SEARCH_ATTRIBUTES],
      log: { format: 'pretty', level: 'warn' },
      extraArgs: DYNAMIC_CONFIG.flatMap((kv) => ['--dynamic-config-value', kv]),
    },
  });
  const namespace = env.namespace ?? 'default';
  try {
    await ensureSearchAttributes(env, namespace, log);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  // The UI binds to the same IP as the frontend (127.0.0.1), so reuse that host
  // rather than "localhost", which may resolve to ::1 first.
  const host = env.address.slice(0, env.address.lastIndexOf(':'));
  const uiUrl = uiPort === undefined ? null : `http://${host}:${uiPort}`;
  log(`temporal dev server at ${env.address} (namespace ${namespace}) ready in ${Date.now() - started} ms` +
    (uiUrl ? `, UI ${uiUrl}` : ''));

  // Memoised so shutdown hooks and tests can both call stop() safely.
  let stopping: Promise<void> | undefined;
  return { address: env.address, namespace, uiUrl, env, stop: () => (stopping ??= env.teardown()) };
}

// `--search-attribute` only takes effect when the namespace is first created,
// so a database from an older build (before an attribute was added) would
// silently lack it; register whatever is missing through the operator API.
async function ensureSearchAttributes(
  env: TestWorkflowEnvironment,
  namespace: string,
  log: (line: string) => void,
): Promise<void> {
  const operator = env.connection.operatorService;
  const { customAttributes } = await operator.listSearchAttributes({ namespace });
  const missing: Record<string, number> = {};
  for (const { name, type } of ALL_SEARCH_ATTRIBUTES) {
    const wanted = encodeSearchAttributeIndexedValueType(type);
    if (wanted === undefined) throw new Error(`search attribute ${name} has unsupported type ${type}`);
    const existing = customAttributes?.[name];
    if (existing === undefined) missing[name] = wanted;
    else if (existing !== wanted) {
      // Temporal cannot retype an attribute; the database must be reset.
      throw new Error(`search attribute ${name} is registered with a different type than ${type}; delete the dev database`);
    }
  }
  if (Object.keys(missing).length === 0) return;
  log(`registering search attributes missing from the existing database: ${Object.keys(missing).join(', ')}`);
  await operator.addSearchAttributes({ namespace, searchAttributes: missing });
}
