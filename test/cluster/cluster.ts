/**
 * A two-node Temporal cluster on this machine's PostgreSQL, laid out as docs/production.md tells
 * an operator to lay out theirs: the schema tool sets up two fresh databases, two server nodes run
 * every service with docker/temporal/batchflow.yaml (the config docker-compose.yml runs), a load
 * balancer fronts their frontends, the namespace and search attributes are created with
 * docker/temporal-namespace.sh, and the Web UI server points at the load balancer.
 *
 * Every process is started detached, its pid and command recorded in <dir>/state.json, so `npm run
 * cluster -- down` (another process) stops exactly those and nothing else. The databases stay
 * after `down`, for a look; the next `up` drops and recreates them.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { connectClosable } from '../../src/temporal/grpc-retry';
import pg from 'pg';
import { resolveTemporalCli } from '../../src/temporal/cli';
import { resolveServerTools, type ServerTools } from '../../src/temporal/server-build';
import { checkSearchAttributes } from '../../src/temporal/search-attribute-setup';

export const REPO_ROOT = path.join(__dirname, '..', '..');
const CONFIG_DIR = 'docker/temporal'; // relative to REPO_ROOT, the server's --root
const READY_DEADLINE_MS = 120_000;
const STOP_GRACE_MS = 15_000;
const execFileP = promisify(execFile);

export interface NodePorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  /** Prometheus /metrics. */
  metrics: number;
  membership: { frontend: number; history: number; matching: number; worker: number };
}

export interface ClusterLayout {
  dir: string;
  /** The admin connection (creates the role and the databases). */
  adminUrl: string;
  db: { host: string; port: number; user: string; temporal: string; visibility: string };
  namespace: string;
  /** The load balancer: the address every client uses. */
  address: string;
  uiUrl: string;
  nodes: NodePorts[];
}

interface Proc {
  name: string;
  pid: number;
  /** argv[0]'s path, checked in /proc before a signal: a recycled pid is never signalled. */
  exe: string;
  log: string;
}

export interface ClusterState {
  layout: ClusterLayout;
  procs: Proc[];
}

/**
 * Ports from CLUSTER_PORT_BASE (default 17000): the load balancer on base+233, the UI on base+80,
 * node n's services on base + n*1000 + the server's usual last three digits (frontend 233, history
 * 234, matching 235, worker 239; membership 933–939; metrics 900).
 */
export function clusterLayout(env: NodeJS.ProcessEnv = process.env): ClusterLayout {
  const base = Number(env.CLUSTER_PORT_BASE ?? 17_000);
  const admin = new URL(env.CLUSTER_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const node = (n: number): NodePorts => {
    const b = base + n * 1000;
    return {
      frontend: b + 233,
      frontendHttp: b + 243,
      history: b + 234,
      matching: b + 235,
      worker: b + 239,
      metrics: b + 900,
      membership: { frontend: b + 933, history: b + 934, matching: b + 935, worker: b + 939 },
    };
  };
  return {
    dir: path.resolve(env.CLUSTER_DIR ?? path.join(REPO_ROOT, '.data', 'cluster')),
    adminUrl: admin.toString(),
    db: {
      host: admin.hostname,
      port: Number(admin.port || 5432),
      user: 'temporal',
      temporal: 'temporal',
      visibility: 'temporal_visibility',
    },
    namespace: env.CLUSTER_NAMESPACE ?? 'batchflow',
    address: `127.0.0.1:${base + 233}`,
    uiUrl: `http://127.0.0.1:${base + 80}`,
    nodes: [node(1), node(2)],
  };
}

/** The environment docker/temporal/batchflow.yaml reads, for node `i` (0-based). */
export function nodeEnv(layout: ClusterLayout, i: number): NodeJS.ProcessEnv {
  const p = layout.nodes[i]!;
  return {
    PATH: process.env.PATH,
    LOG_LEVEL: 'info',
    POSTGRES_SEEDS: layout.db.host,
    DB_PORT: String(layout.db.port),
    POSTGRES_USER: layout.db.user,
    POSTGRES_PWD: '',
    DBNAME: layout.db.temporal,
    VISIBILITY_DBNAME: layout.db.visibility,
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    FRONTEND_GRPC_PORT: String(p.frontend),
    FRONTEND_HTTP_PORT: String(p.frontendHttp),
    HISTORY_GRPC_PORT: String(p.history),
    MATCHING_GRPC_PORT: String(p.matching),
    WORKER_GRPC_PORT: String(p.worker),
    FRONTEND_MEMBERSHIP_PORT: String(p.membership.frontend),
    HISTORY_MEMBERSHIP_PORT: String(p.membership.history),
    MATCHING_MEMBERSHIP_PORT: String(p.membership.matching),
    WORKER_MEMBERSHIP_PORT: String(p.membership.worker),
    PROMETHEUS_ENDPOINT: `127.0.0.1:${p.metrics}`,
    PUBLIC_FRONTEND_ADDRESS: layout.address,
    DYNAMIC_CONFIG_FILE_PATH: path.join(REPO_ROOT, CONFIG_DIR, 'dynamicconfig.yaml'),
  };
}

const stateFile = (layout: ClusterLayout): string => path.join(layout.dir, 'state.json');

export function readState(layout: ClusterLayout = clusterLayout()): ClusterState | null {
  try {
    return JSON.parse(fs.readFileSync(stateFile(layout), 'utf8')) as ClusterState;
  } catch {
    return null;
  }
}

function writeState(state: ClusterState): void {
  fs.writeFileSync(stateFile(state.layout), JSON.stringify(state, null, 2));
}

type Log = (line: string) => void;

/** Builds what is missing, then brings the whole cluster up from fresh databases. */
export async function up(opts: { layout?: ClusterLayout; log?: Log } = {}): Promise<ClusterState> {
  const layout = opts.layout ?? clusterLayout();
  const log = opts.log ?? (() => {});
  const earlier = readState(layout);
  if (earlier) {
    log('stopping what an earlier `up` left running');
    await down(earlier, log);
  }
  await portsFree(layout);
  fs.mkdirSync(layout.dir, { recursive: true });
  // A new cluster, new logs (a restarted node appends to its own).
  for (const f of fs.readdirSync(layout.dir)) if (f.endsWith('.log')) fs.rmSync(path.join(layout.dir, f));
  const tools = await resolveServerTools({ log });
  const cli = await resolveTemporalCli({ log });
  if (cli.type !== 'existing-path') throw new Error('the cluster needs the Temporal CLI binary (npm run temporal:cli)');

  await freshDatabases(layout, log);
  await runScript(
    'temporal-schema.sh',
    {
      TEMPORAL_SQL_TOOL: tools.sqlTool,
      TEMPORAL_SCHEMA_DIR: tools.schemaDir,
      SQL_PLUGIN: 'postgres12',
      SQL_HOST: layout.db.host,
      SQL_PORT: String(layout.db.port),
      SQL_USER: layout.db.user,
      SQL_PASSWORD: '',
      DBNAME: layout.db.temporal,
      VISIBILITY_DBNAME: layout.db.visibility,
    },
    path.join(layout.dir, 'schema.log'),
  );
  log('schema applied to both databases');

  const state: ClusterState = { layout, procs: [] };
  try {
    // The first node alone, then the second: each joins the ring the database tells it of.
    for (let i = 0; i < layout.nodes.length; i++) await startNode(state, i, tools);
    startProxy(state);
    await waitServing(layout.address, `the load balancer ${layout.address}`);
    await runScript(
      'temporal-namespace.sh',
      { TEMPORAL_CLI: cli.path, TEMPORAL_ADDRESS: layout.address, TEMPORAL_NAMESPACE: layout.namespace, NAMESPACE_RETENTION: '24h' },
      path.join(layout.dir, 'namespace.log'),
    );
    await namespaceReadyOnEveryNode(layout);
    startUi(state, tools);
    await waitHttp(`${layout.uiUrl}/api/v1/settings`, 'the Web UI server');
    log(
      `cluster up: ${layout.address} (nodes ${layout.nodes.map((n) => n.frontend).join(', ')}), UI ${layout.uiUrl}, namespace ${layout.namespace}`,
    );
    return state;
  } catch (err) {
    await down(state, log).catch(() => {});
    throw err;
  }
}

/** Every port of the layout, each in a sentence for the error that names it. */
function layoutPorts(layout: ClusterLayout): Array<[number, string]> {
  const ports: Array<[number, string]> = [
    [Number(layout.address.split(':')[1]), 'the load balancer'],
    [Number(new URL(layout.uiUrl).port), 'the Web UI'],
  ];
  layout.nodes.forEach((n, i) => {
    for (const [what, port] of Object.entries({ ...n, ...n.membership }))
      if (typeof port === 'number') ports.push([port, `node${i + 1}'s ${what} port`]);
  });
  return ports;
}

/** Fails at once, naming the port, when something already listens on one the cluster needs. */
async function portsFree(layout: ClusterLayout): Promise<void> {
  for (const [port, what] of layoutPorts(layout)) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (!free)
      throw new Error(
        `port ${port} (${what}) is in use: another cluster? Stop it with \`npm run cluster -- down\` in the checkout that started it, or set CLUSTER_PORT_BASE`,
      );
  }
}

/** Stops every process `up` (or startNode) recorded, and only those. */
export async function down(state: ClusterState, log: Log = () => {}): Promise<void> {
  await Promise.all(state.procs.map((p) => stopProc(p, 'SIGTERM').then((how) => log(`${p.name} (pid ${p.pid}) ${how}`))));
  state.procs = [];
  fs.rmSync(stateFile(state.layout), { force: true });
}

/** Starts node `i` (0-based) and waits until its frontend serves; a restart rejoins the same ring. */
export async function startNode(state: ClusterState, i: number, tools?: ServerTools): Promise<Proc> {
  const server = (tools ?? (await resolveServerTools())).server;
  const name = `node${i + 1}`;
  state.procs = state.procs.filter((p) => p.name !== name);
  const config = ['--root', REPO_ROOT, '--config', CONFIG_DIR, '--env', 'batchflow'];
  // The node's config as the server renders it from the template and this node's environment:
  // written beside its log to be read, and a template error fails here, before anything starts.
  const rendered = await execFileP(server, [...config, 'render-config'], {
    cwd: REPO_ROOT,
    env: nodeEnv(state.layout, i),
    timeout: 30_000,
  });
  fs.writeFileSync(path.join(state.layout.dir, `${name}.yaml`), rendered.stdout);
  const proc = spawnDetached(state, name, server, [...config, 'start'], nodeEnv(state.layout, i));
  await waitServing(`127.0.0.1:${state.layout.nodes[i]!.frontend}`, name, proc);
  return proc;
}

/** Sends `signal` to node `i` and waits for it to exit. */
export async function signalNode(state: ClusterState, i: number, signal: NodeJS.Signals): Promise<void> {
  const proc = state.procs.find((p) => p.name === `node${i + 1}`);
  if (!proc) throw new Error(`node${i + 1} is not running`);
  await stopProc(proc, signal);
  state.procs = state.procs.filter((p) => p !== proc);
  writeState(state);
}

function startProxy(state: ClusterState): void {
  const upstreams = state.layout.nodes.map((n) => `127.0.0.1:${n.frontend}`).join(',');
  spawnDetached(state, 'proxy', process.execPath, ['--import', 'tsx', path.join(__dirname, 'frontend-proxy.ts')], {
    PATH: process.env.PATH,
    PROXY_LISTEN: state.layout.address,
    PROXY_UPSTREAMS: upstreams,
  });
}

function startUi(state: ClusterState, tools: ServerTools): void {
  // config/docker.yaml is the temporalio/ui image's template; these are the variables compose sets.
  spawnDetached(state, 'ui', tools.uiServer, ['--root', tools.uiRoot, '--config', 'config', '--env', 'docker', 'start'], {
    PATH: process.env.PATH,
    TEMPORAL_ADDRESS: state.layout.address,
    TEMPORAL_UI_PORT: new URL(state.layout.uiUrl).port,
    TEMPORAL_DEFAULT_NAMESPACE: state.layout.namespace,
  });
}

function spawnDetached(state: ClusterState, name: string, exe: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const log = path.join(state.layout.dir, `${name}.log`);
  const out = fs.openSync(log, 'a');
  const child = spawn(exe, args, { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.unref();
  if (child.pid === undefined) throw new Error(`${name} did not start (${exe})`);
  const proc: Proc = { name, pid: child.pid, exe, log };
  state.procs.push(proc);
  writeState(state);
  return proc;
}

/** The process's argv[0] from /proc, or null when it is gone. */
function procExe(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? null;
  } catch {
    return null;
  }
}

const isOurs = (p: Proc): boolean => procExe(p.pid) === p.exe;

async function stopProc(p: Proc, signal: NodeJS.Signals): Promise<string> {
  if (!isOurs(p)) return 'was not running';
  process.kill(p.pid, signal);
  const deadline = Date.now() + (signal === 'SIGKILL' ? 5_000 : STOP_GRACE_MS);
  while (Date.now() < deadline) {
    if (!isOurs(p) || isZombie(p.pid)) return `stopped (${signal})`;
    await sleep(100);
  }
  process.kill(p.pid, 'SIGKILL');
  return `killed after ${STOP_GRACE_MS} ms`;
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

async function freshDatabases(layout: ClusterLayout, log: Log): Promise<void> {
  const admin = new pg.Client({ connectionString: layout.adminUrl, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  try {
    // The role docker/postgres-init.sh makes in compose; trust auth on loopback here.
    const role = await admin.query('select 1 from pg_roles where rolname = $1', [layout.db.user]);
    if (role.rowCount === 0) await admin.query(`create role ${pg.escapeIdentifier(layout.db.user)} with login createdb`);
    for (const db of [layout.db.temporal, layout.db.visibility]) {
      await admin.query(`drop database if exists ${pg.escapeIdentifier(db)} with (force)`);
    }
  } finally {
    await admin.end();
  }
  log(`dropped ${layout.db.temporal} and ${layout.db.visibility}; temporal-schema.sh creates them`);
}

function runScript(script: string, env: Record<string, string>, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    // HOME: the CLI reads its (optional) config file from the user's config dir, and fails without one.
    const child = spawn('sh', [path.join(REPO_ROOT, 'docker', script)], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker/${script} failed (exit ${code}):\n${tail(logFile)}`))));
  });
}

const tail = (file: string, lines = 30): string => {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
};

async function waitServing(address: string, what: string, proc?: Proc): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && !isOurs(proc)) throw new Error(`${what} exited before it served:\n${tail(proc.log)}`);
    try {
      const connection = await connectClosable({ address, connectTimeout: 2_000 });
      try {
        const health = await connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
        if (health.status === 1) return; // SERVING
        last = `status ${health.status}`;
      } finally {
        await connection.close();
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`${what} not serving after ${READY_DEADLINE_MS} ms (${last})${proc ? `:\n${tail(proc.log)}` : ''}`);
}

/**
 * Each node's own frontend knows the namespace and its search attributes (a node's namespace cache
 * refreshes on its own clock), and the attributes are exactly batchflow's list.
 */
async function namespaceReadyOnEveryNode(layout: ClusterLayout): Promise<void> {
  for (const node of layout.nodes) {
    const connection = await connectClosable({ address: `127.0.0.1:${node.frontend}` });
    try {
      const deadline = Date.now() + READY_DEADLINE_MS;
      for (;;) {
        try {
          await connection.workflowService.describeNamespace({ namespace: layout.namespace });
          const check = await checkSearchAttributes(connection.operatorService, layout.namespace);
          if (check.missing.length === 0 && check.wrongType.length === 0) break;
          if (check.wrongType.length > 0)
            throw new Error(`search attributes with the wrong type: ${check.wrongType.map((a) => a.name).join(', ')}`);
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
        if (Date.now() > deadline)
          throw new Error(`namespace ${layout.namespace} lacks batchflow's search attributes on node ${node.frontend}`);
        await sleep(500);
      }
    } finally {
      await connection.close();
    }
  }
}

async function waitHttp(url: string, what: string): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  while (Date.now() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(500);
  }
  throw new Error(`${what} did not answer ${url} within ${READY_DEADLINE_MS} ms`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One node's Prometheus text, as `name{labels} value` lines. */
export async function scrapeMetrics(layout: ClusterLayout, i: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${layout.nodes[i]!.metrics}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`node${i + 1} /metrics answered ${res.status}`);
  return res.text();
}

/**
 * Which node (0-based) owns the history shard of `workflowId`, read from Temporal's own tables:
 * `executions` names the shard, and the shard's record names its owner's history address. (Internal
 * tables, read only, and only by this test: it lets the node-kill case kill the node that matters.)
 */
export async function shardOwnerOf(layout: ClusterLayout, workflowId: string): Promise<number> {
  const url = new URL(layout.adminUrl);
  url.pathname = `/${layout.db.temporal}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    const run = await db.query<{ shard_id: number }>('select shard_id from executions where workflow_id = $1 limit 1', [workflowId]);
    const shard = run.rows[0]?.shard_id;
    if (shard === undefined) throw new Error(`no execution of ${workflowId} in ${layout.db.temporal}`);
    const record = await db.query<{ data: Buffer }>('select data from shards where shard_id = $1', [shard]);
    const data = record.rows[0]?.data.toString('latin1') ?? '';
    const owner = layout.nodes.findIndex((n) => data.includes(`127.0.0.1:${n.history}`));
    if (owner < 0) throw new Error(`shard ${shard}'s record names no node of this cluster`);
    return owner;
  } finally {
    await db.end();
  }
}
