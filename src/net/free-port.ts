import net from 'node:net';

/**
 * A loopback port nothing listens on right now: the OS picks it, then it is released for whoever
 * binds it next (a child process, Core's metrics exporter, the Temporal UI). Another process could
 * take it in between; on one machine's loopback that race is rare enough for what uses it.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
