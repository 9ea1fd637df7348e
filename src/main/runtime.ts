/** Start-up steps that the embedded stack, the API process and the worker process share. */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { openDb, type Db } from '../db/connect';
import type { Config } from '../config';

/** PostgreSQL when configured; otherwise the embedded PGlite under the data dir. */
export async function openDatabase(config: Config): Promise<Db> {
  return openDb({ url: config.databaseUrl, pgliteDir: path.join(config.dataDir, 'pglite') });
}

export async function connectClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace });
}

/**
 * Runs `stop` once on SIGINT/SIGTERM, then exits. A second signal exits at once, for the
 * operator who really means it.
 */
export function onShutdown(stop: () => Promise<void>, log: (msg: string) => void): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`${signal}: shutting down`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
