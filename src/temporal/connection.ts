/**
 * Every connection to Temporal is built here: the API's client, the worker's native connection and
 * the commands' (migrate, stale). An existing Temporal is reached with the settings the Temporal
 * CLI reads too (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS,
 * TEMPORAL_TLS_CERT / _KEY / _CA as PEM file paths, TEMPORAL_TLS_SERVER_NAME): mTLS for a
 * self-hosted cluster, an API key for Temporal Cloud. `npm start`'s own dev server is plaintext on
 * loopback.
 *
 * A connection that cannot be made fails the process at start with what was tried (address, TLS
 * files, server name; never the API key) and, when the TLS handshake is what failed, which
 * setting to check.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import type { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalTls } from '../config';
import { connectClosable } from './grpc-retry';

/** Where Temporal is and how to reach it. */
export interface TemporalTarget {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: TemporalTls;
}

/** An existing Temporal without TEMPORAL_ADDRESS: the SDK's and the CLI's default. */
export const DEFAULT_ADDRESS = 'localhost:7233';

/** The target the configuration names (TEMPORAL_ADDRESS, else localhost:7233). */
export function configuredTarget(temporal: {
  address: string | undefined;
  namespace: string;
  apiKey?: string;
  tls?: TemporalTls;
}): TemporalTarget {
  return {
    address: temporal.address ?? DEFAULT_ADDRESS,
    namespace: temporal.namespace,
    ...(temporal.apiKey ? { apiKey: temporal.apiKey } : {}),
    ...(temporal.tls ? { tls: temporal.tls } : {}),
  };
}

export class TemporalConnectError extends Error {}

/** The SDK's TLS options, the files read now: a missing file is named, not a failed handshake later. */
export function tlsOptions(settings: TemporalTls | undefined) {
  if (!settings) return false as const;
  const { serverName, caPath, certPath, keyPath } = settings;
  return {
    ...(serverName ? { serverNameOverride: serverName } : {}),
    ...(caPath ? { serverRootCACertificate: readPem('TEMPORAL_TLS_CA', caPath) } : {}),
    ...(certPath && keyPath
      ? { clientCertPair: { crt: readPem('TEMPORAL_TLS_CERT', certPath), key: readPem('TEMPORAL_TLS_KEY', keyPath) } }
      : {}),
  };
}

function readPem(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new TemporalConnectError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

const options = (t: TemporalTarget) => ({ address: t.address, tls: tlsOptions(t.tls), ...(t.apiKey ? { apiKey: t.apiKey } : {}) });

/** The client's connection (the API, the commands). */
export async function connectClientConnection(t: TemporalTarget, extra: { connectTimeoutMs?: number } = {}): Promise<Connection> {
  const opts = options(t);
  try {
    return await connectClosable({ ...opts, ...(extra.connectTimeoutMs ? { connectTimeout: extra.connectTimeoutMs } : {}) });
  } catch (err) {
    throw await explain(t, err);
  }
}

/** The worker's connection. */
export async function connectNative(t: TemporalTarget): Promise<NativeConnection> {
  const opts = options(t);
  try {
    return await NativeConnection.connect(opts);
  } catch (err) {
    throw await explain(t, err);
  }
}

const HANDSHAKE = /certificate|handshake|x509|tls|ssl|UnknownIssuer|BadSignature|NotValidForName|invalid peer/i;
const PROBE_TIMEOUT_MS = 5_000;

/**
 * A TLS handshake of our own with the same files and name, to say why the SDK could not connect:
 * the gRPC client reports a refused certificate only as "Failed to connect before the deadline".
 * Undefined when the handshake succeeds (the failure was something else).
 */
function tlsProbe(t: TemporalTarget, tlsOpts: ReturnType<typeof tlsOptions>): Promise<string | undefined> {
  if (!tlsOpts) return Promise.resolve(undefined);
  const at = t.address.lastIndexOf(':');
  // `[::1]:7233`: the brackets are the address's, not the host's.
  const host = t.address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = tls.connect(
      {
        host,
        port: Number(t.address.slice(at + 1)),
        servername: tlsOpts.serverNameOverride ?? host,
        ...(tlsOpts.serverRootCACertificate ? { ca: Buffer.from(tlsOpts.serverRootCACertificate) } : {}),
        ...(tlsOpts.clientCertPair ? { cert: Buffer.from(tlsOpts.clientCertPair.crt), key: Buffer.from(tlsOpts.clientCertPair.key) } : {}),
        ALPNProtocols: ['h2'],
      },
      () => {
        socket.destroy();
        resolve(undefined);
      },
    );
    socket.setTimeout(PROBE_TIMEOUT_MS, () => {
      socket.destroy();
      resolve(`no TLS handshake within ${PROBE_TIMEOUT_MS / 1000} s`);
    });
    socket.on('error', (e) => resolve(e.message));
  });
}

/** What was tried and, for a refused handshake, what to check. The API key is never shown. */
export async function explain(t: TemporalTarget, err: unknown): Promise<TemporalConnectError> {
  let message = err instanceof Error ? err.message : String(err);
  if (t.tls && !HANDSHAKE.test(message)) {
    const refused = await tlsProbe(t, tlsOptions(t.tls)).catch(() => undefined);
    if (refused) message = `${message} (a TLS handshake with the same settings: ${refused})`;
  }
  const how: string[] = [];
  if (t.tls) {
    how.push('TLS');
    if (t.tls.caPath) how.push(`CA TEMPORAL_TLS_CA=${t.tls.caPath}`);
    else how.push("the system's CA roots");
    if (t.tls.certPath) how.push(`client certificate TEMPORAL_TLS_CERT=${t.tls.certPath}`);
    if (t.tls.serverName) how.push(`server name TEMPORAL_TLS_SERVER_NAME=${t.tls.serverName}`);
  } else how.push('no TLS');
  if (t.apiKey) how.push('an API key (TEMPORAL_API_KEY)');
  const hint =
    t.tls && HANDSHAKE.test(message)
      ? ' The TLS handshake failed: TEMPORAL_TLS_CA must hold the CA that signed the server certificate, ' +
        'TEMPORAL_TLS_SERVER_NAME (else the address host) must be a name in it, and a server that asks for a client ' +
        'certificate must trust TEMPORAL_TLS_CERT.'
      : '';
  return new TemporalConnectError(
    `cannot connect to Temporal at ${t.address} (namespace ${t.namespace}; ${how.join(', ')}): ${message}.${hint}`,
    { cause: err },
  );
}
