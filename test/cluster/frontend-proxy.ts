/**
 * The load balancer in front of the cluster's frontends, as an operator puts one there (a cloud
 * L4 load balancer, a Kubernetes Service): clients know one address, and a node that is down is
 * skipped. It forwards TCP (gRPC's HTTP/2 passes through untouched), each new connection to the
 * next frontend that accepts it. A connection to a node that dies breaks, and the client's
 * reconnect lands on a live one.
 *
 * `node --import tsx test/cluster/frontend-proxy.ts`, with PROXY_LISTEN (host:port) and
 * PROXY_UPSTREAMS (host:port,host:port). test/cluster/cluster.ts starts it.
 */
import net from 'node:net';

const CONNECT_TIMEOUT_MS = 2_000;

const [listenHost, listenPort] = hostPort(process.env.PROXY_LISTEN ?? '');
const upstreams = (process.env.PROXY_UPSTREAMS ?? '').split(',').filter(Boolean).map(hostPort);
if (upstreams.length === 0) throw new Error('PROXY_UPSTREAMS names no frontend');

function hostPort(s: string): [string, number] {
  const at = s.lastIndexOf(':');
  const port = Number(s.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port)) throw new Error(`not host:port: "${s}"`);
  return [s.slice(0, at), port];
}

let next = 0;

/** The first upstream, from the next in turn, that accepts a connection; null when none does. */
async function connectUpstream(): Promise<net.Socket | null> {
  const start = next++;
  for (let i = 0; i < upstreams.length; i++) {
    const [host, port] = upstreams[(start + i) % upstreams.length]!;
    const socket = await new Promise<net.Socket | null>((resolve) => {
      const s = net.connect({ host, port });
      const fail = (): void => {
        s.destroy();
        resolve(null);
      };
      s.setTimeout(CONNECT_TIMEOUT_MS, fail);
      s.once('error', fail);
      s.once('connect', () => {
        s.setTimeout(0);
        s.removeListener('error', fail);
        resolve(s);
      });
    });
    if (socket) return socket;
  }
  return null;
}

const server = net.createServer((client) => {
  client.pause();
  client.on('error', () => client.destroy());
  void connectUpstream().then((upstream) => {
    if (!upstream || client.destroyed) {
      upstream?.destroy();
      client.destroy();
      return;
    }
    upstream.on('error', () => upstream.destroy());
    // Either side ending ends the pair: a dead node's connections close, and clients reconnect.
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
});

server.listen(listenPort, listenHost, () => {
  console.log(`frontend proxy on ${listenHost}:${listenPort} -> ${upstreams.map((u) => u.join(':')).join(', ')}`);
});
// Open gRPC connections are long-lived; closing them is what a stopping load balancer does.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
