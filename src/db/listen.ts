/**
 * LISTEN on a channel, for both databases. PGlite delivers notifications in-process. On PostgreSQL
 * a connection of its own listens, outside the pool; when it is lost, notifications sent meanwhile
 * are lost with it, so the listener says so (`gap`), is not `live` until it listens again, and
 * reconnects every RECONNECT_MS until closed.
 */
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';

export interface ListenHandlers {
  message(payload: string): void;
  /** Notifications may have been missed (the connection was lost, or came back). */
  gap(): void;
}

export interface Listening {
  /** Whether every notification reaches `message` now. */
  live(): boolean;
  close(): Promise<void>;
}

export const RECONNECT_MS = 1_000;

export async function listenPglite(client: PGlite, channel: string, h: ListenHandlers): Promise<Listening> {
  const unlisten = await client.listen(channel, (payload) => h.message(payload));
  let open = true;
  return {
    live: () => open,
    close: async () => {
      open = false;
      await unlisten().catch(() => undefined);
    },
  };
}

export async function listenPostgres(url: string, connectTimeoutMs: number, channel: string, h: ListenHandlers): Promise<Listening> {
  let client: pg.Client | undefined;
  let live = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const lost = (c: pg.Client): void => {
    if (client !== c) return;
    client = undefined;
    live = false;
    h.gap();
    c.end().catch(() => undefined);
    if (!closed) retry = setTimeout(() => void connect().catch(() => undefined), RECONNECT_MS).unref();
  };

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
    client = c;
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    c.on('notification', (n) => n.channel === channel && h.message(n.payload ?? ''));
    try {
      await c.connect();
      await c.query(`listen ${channel}`);
    } catch (err) {
      lost(c);
      throw err;
    }
    if (closed) return void c.end().catch(() => undefined);
    live = true;
    // Whatever changed before this connection listened was not heard.
    h.gap();
  }

  // A database that cannot be reached now is tried again (lost() set the timer); reads go to it meanwhile.
  await connect().catch(() => undefined);
  return {
    live: () => live,
    close: async () => {
      closed = true;
      live = false;
      clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
