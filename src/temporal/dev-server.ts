// Runs the Temporal dev server (a child process of the SDK's native runtime)
// for embedded mode and the test suite.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { resolveTemporalCli } from './cli';
import { ALL_SEARCH_ATTRIBUTES } from './search-attributes';
import { ensureSearchAttributes } from './search-attribute-setup';

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
  opts: {
    dbFilename?: string;
    port?: number;
    ui?: boolean;
    uiPort?: number;
    log?: (line: string) => void;
    /**
     * false: a bare server, without batchflow's search attributes (no `--search-attribute`, nothing
     * added), like an existing Temporal that never had them. Default true.
     */
    searchAttributes?: boolean;
  } = {},
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
      searchAttributes: opts.searchAttributes === false ? [] : [...ALL_SEARCH_ATTRIBUTES],
      log: { format: 'pretty', level: 'warn' },
      extraArgs: DYNAMIC_CONFIG.flatMap((kv) => ['--dynamic-config-value', kv]),
    },
  });
  const namespace = env.namespace ?? 'default';
  try {
    // `--search-attribute` only takes effect when the namespace is first created, so a database
    // from an older build (before an attribute was added) would silently lack it.
    if (opts.searchAttributes !== false) {
      const setup = await ensureSearchAttributes(env.connection.operatorService, { namespace, log });
      if (setup.state === 'wrong type')
        throw new Error(`search attributes ${setup.wrongType.join(', ')} are registered with a different type; delete the dev database`);
      if (setup.state === 'missing')
        throw new Error(`could not register search attributes ${setup.missing.join(', ')}: ${setup.error ?? setup.reason}`);
    }
  } catch (err) {
    await env.teardown();
    throw err;
  }
  // The UI binds to the same IP as the frontend (127.0.0.1), so reuse that host
  // rather than "localhost", which may resolve to ::1 first.
  const host = env.address.slice(0, env.address.lastIndexOf(':'));
  const uiUrl = uiPort === undefined ? null : `http://${host}:${uiPort}`;
  log(
    `temporal dev server at ${env.address} (namespace ${namespace}) ready in ${Date.now() - started} ms` + (uiUrl ? `, UI ${uiUrl}` : ''),
  );

  // Memoised so shutdown hooks and tests can both call stop() safely.
  let stopping: Promise<void> | undefined;
  return { address: env.address, namespace, uiUrl, env, stop: () => (stopping ??= env.teardown()) };
}
