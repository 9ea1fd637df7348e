/**
 * TLS in front of the suite's dev server, the way a self-hosted cluster or a proxy serves
 * Temporal: certificates made with `openssl` for this test only (a CA, a server certificate for
 * a name of its own, a client certificate), and a terminator on loopback that asks for the
 * client certificate (mTLS), checks it against the CA, and passes the bytes to the dev server.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

export interface Certs {
  dir: string;
  caPath: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The name the server certificate is for (not the address's host). */
  serverName: string;
  /** A second CA that signed nothing here: the wrong one. */
  otherCaPath: string;
}

const openssl = (cwd: string, args: string[]): void => void execFileSync('openssl', args, { cwd, stdio: 'pipe' });

function makeCa(dir: string, name: string): void {
  // prettier-ignore
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=batchflow test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, name: string, subject: string, ext: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${subject}`,
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function makeCerts(serverName = 'temporal.test'): Certs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'server', serverName, `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  makeLeaf(dir, 'client', 'batchflow worker', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  const at = (f: string): string => path.join(dir, f);
  return {
    dir,
    caPath: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    serverName,
    otherCaPath: at('other-ca.pem'),
  };
}

export interface Terminator {
  address: string;
  /** TLS connections whose client certificate the CA vouched for. */
  authorized(): number;
  close(): Promise<void>;
}

/** mTLS on a loopback port, the plaintext dev server at `upstream` behind it. */
export async function startTerminator(certs: Certs, upstream: string): Promise<Terminator> {
  const [host, port] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.slice(upstream.lastIndexOf(':') + 1))];
  let authorized = 0;
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      key: fs.readFileSync(certs.serverKey),
      cert: fs.readFileSync(certs.serverCert),
      ca: fs.readFileSync(certs.caPath),
      requestCert: true,
      rejectUnauthorized: true,
      // gRPC is HTTP/2: say so in the handshake, as a real server does.
      ALPNProtocols: ['h2'],
    },
    (client) => {
      if (client.authorized) authorized++;
      const backend = net.connect(port, host === 'localhost' ? '127.0.0.1' : host);
      for (const s of [client, backend]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(backend).pipe(client);
      client.on('close', () => backend.destroy());
      backend.on('close', () => client.destroy());
    },
  );
  // A handshake refused (the wrong CA on the other side) is that client's failure, not ours.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${own}`,
    authorized: () => authorized,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
