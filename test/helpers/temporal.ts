/**
 * The suite's Temporal: the dev server that `npm test` started (TEMPORAL_TEST_ADDRESS), or, when a
 * file is run on its own, one started for this process. Never a fake.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { bundleWorkflows } from '../../src/temporal/worker';
import { connectClosable } from '../../src/temporal/grpc-retry';

let own: Promise<DevServer> | undefined;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

export async function temporalAddress(): Promise<{ address: string; namespace: string }> {
  if (process.env.TEMPORAL_TEST_ADDRESS) {
    return { address: process.env.TEMPORAL_TEST_ADDRESS, namespace: process.env.TEMPORAL_TEST_NAMESPACE ?? 'default' };
  }
  own ??= startDevServer({});
  const server = await own;
  return { address: server.address, namespace: server.namespace };
}

/** Stops the dev server this process started for itself, if any. */
export async function stopOwnServer(): Promise<void> {
  if (own) await (await own).stop();
}

/** The suite's Temporal, or `target` (a server a test started for itself). */
export async function connectTemporal(target?: {
  address: string;
  namespace: string;
}): Promise<{ client: Client; nativeConnection: NativeConnection; namespace: string; close(): Promise<void> }> {
  const { address, namespace } = target ?? (await temporalAddress());
  // As the API connects (src/temporal/connection.ts): a retry never fires after close().
  const connection = await connectClosable({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection, namespace }),
    nativeConnection,
    namespace,
    close: async () => {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** Workflow code bundled in this process, once, and shared by every caller in it. */
export const sharedBundle = (): Promise<WorkflowBundleWithSourceMap> => (bundle ??= bundleWorkflows());

/**
 * The workflow code for the suite's workers: the file `npm test` bundled once for the whole run
 * (TEST_WORKFLOW_BUNDLE, written by the same bundleWorkflows()), or, when a file runs without
 * test/run.ts, this process's own bundle. A test about bundling itself uses sharedBundle().
 */
export const suiteBundle = (): Promise<WorkflowBundleWithSourceMap | { codePath: string }> =>
  process.env.TEST_WORKFLOW_BUNDLE ? Promise.resolve({ codePath: process.env.TEST_WORKFLOW_BUNDLE }) : sharedBundle();

export const uniqueTaskQueue = (): string => `test-${randomUUID()}`;
