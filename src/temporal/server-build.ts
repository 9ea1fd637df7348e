// The Temporal server, its schema tool (temporal-sql-tool) and the Web UI server, built from their
// Go modules at the releases docker-compose.yml's images carry, and cached outside the repo like
// the CLI (./cli). The cluster test (test/cluster) runs them; production runs the images.
//
// Each cache directory also keeps what the module ships beside the binaries: the server's
// PostgreSQL schemas, the UI server's config template. The Go module cache may be cleaned; these
// stay with the binaries they belong to.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildInto, cacheRoot, findOnPath, goInstall, goModuleDir, isExecutableFile, type Log } from './go-install';

/** docker-compose.yml's TEMPORAL_VERSION default; `go.temporal.io/server` has no replace directives. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
/** docker-compose.yml's TEMPORAL_UI_VERSION default (the UI the CLI v1.5.1 embeds, too). */
export const TEMPORAL_UI_VERSION = 'v2.42.1';

const SERVER_MODULE = 'go.temporal.io/server';
const UI_MODULE = 'github.com/temporalio/ui-server/v2';

export interface ServerTools {
  /** `temporal-server`: every service of a node (frontend, history, matching, worker). */
  server: string;
  /** `temporal-sql-tool`: creates the databases and applies the versioned schemas. */
  sqlTool: string;
  /** The module's `schema/postgresql/v12` (its `temporal` and `visibility` folders). */
  schemaDir: string;
  /** The Web UI server (temporalio/ui's binary). */
  uiServer: string;
  /** Holds `config/docker.yaml`, the UI image's config template (read with `--root`). */
  uiRoot: string;
}

export function serverToolsPaths(env: NodeJS.ProcessEnv = process.env): ServerTools {
  const server = path.join(cacheRoot(env), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const ui = path.join(cacheRoot(env), `temporal-ui-server-${TEMPORAL_UI_VERSION}`);
  return {
    server: path.join(server, 'temporal-server'),
    sqlTool: path.join(server, 'temporal-sql-tool'),
    schemaDir: path.join(server, 'schema', 'postgresql', 'v12'),
    uiServer: path.join(ui, 'temporal-ui-server'),
    uiRoot: ui,
  };
}

/** The cached tools, building what is missing (a few minutes the first time). Needs `go` on PATH. */
export async function resolveServerTools(opts: { log?: Log; env?: NodeJS.ProcessEnv } = {}): Promise<ServerTools> {
  const log = opts.log ?? (() => {});
  const env = opts.env ?? process.env;
  const tools = serverToolsPaths(env);
  const serverReady = async () =>
    (await isExecutableFile(tools.server)) &&
    (await isExecutableFile(tools.sqlTool)) &&
    (await exists(path.join(tools.schemaDir, 'temporal')));
  const uiReady = async () => (await isExecutableFile(tools.uiServer)) && (await exists(path.join(tools.uiRoot, 'config', 'docker.yaml')));
  if ((await serverReady()) && (await uiReady())) return tools;

  const go = await findOnPath('go', env);
  if (!go)
    throw new Error(
      `the Temporal server ${TEMPORAL_SERVER_VERSION} is not cached at ${path.dirname(tools.server)} and there is no go on PATH to build it`,
    );

  await buildInto(path.dirname(tools.server), 'Temporal server', log, serverReady, async (dir) => {
    const what = `Temporal server ${TEMPORAL_SERVER_VERSION}`;
    await goInstall(go, `${SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`, dir, what, log, env);
    await fs.rename(path.join(dir, 'server'), path.join(dir, 'temporal-server'));
    await goInstall(go, `${SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`, dir, 'temporal-sql-tool', log, env);
    await fs.rename(path.join(dir, 'sql'), path.join(dir, 'temporal-sql-tool'));
    const module = await goModuleDir(go, `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`, env);
    await copyWritable(path.join(module, 'schema', 'postgresql', 'v12'), path.join(dir, 'schema', 'postgresql', 'v12'));
  });
  await buildInto(tools.uiRoot, 'Temporal UI server', log, uiReady, async (dir) => {
    await goInstall(go, `${UI_MODULE}/cmd/server@${TEMPORAL_UI_VERSION}`, dir, `Temporal UI server ${TEMPORAL_UI_VERSION}`, log, env);
    await fs.rename(path.join(dir, 'server'), path.join(dir, 'temporal-ui-server'));
    const module = await goModuleDir(go, `${UI_MODULE}@${TEMPORAL_UI_VERSION}`, env);
    await copyWritable(path.join(module, 'config', 'docker.yaml'), path.join(dir, 'config', 'docker.yaml'));
  });
  log(`Temporal server ${TEMPORAL_SERVER_VERSION} and UI server ${TEMPORAL_UI_VERSION} at ${cacheRoot(env)}`);
  return tools;
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/** The module cache is read-only; the copies are made writable so the cache dir can be removed. */
async function copyWritable(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true });
  await fs.cp(from, to, { recursive: true });
  const walk = async (p: string): Promise<void> => {
    const stat = await fs.stat(p);
    await fs.chmod(p, stat.isDirectory() ? 0o755 : 0o644);
    if (stat.isDirectory()) for (const name of await fs.readdir(p)) await walk(path.join(p, name));
  };
  await walk(to);
}
