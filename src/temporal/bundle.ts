/**
 * `npm run build:workflows [-- [--tracing] [out]]`: bundles the workflows ahead of time (default
 * dist/workflow-bundle.js; `--tracing` adds the OpenTelemetry workflow interceptors, needed for
 * workflow spans when tracing is on, see src/tracing). A worker given the file (WORKFLOW_BUNDLE_PATH) starts without webpack,
 * and every replica runs byte-identical workflow code. It is the same bundleWorkflows() the worker
 * calls at start, so both ways give the same workflows with the same bundle options.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflows } from './worker';

export const DEFAULT_BUNDLE_PATH = path.join(__dirname, '..', '..', 'dist', 'workflow-bundle.js');

/** Writes the bundle to `out` (via a temporary file, so a reader never sees half of it); returns its size. */
export async function writeWorkflowBundle(out: string, opts: { tracing?: boolean } = {}): Promise<number> {
  const { code } = await bundleWorkflows(opts);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const partial = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(partial, code);
  fs.renameSync(partial, out);
  return Buffer.byteLength(code);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const tracing = args.includes('--tracing');
  const out = path.resolve(args.find((a) => !a.startsWith('--')) ?? DEFAULT_BUNDLE_PATH);
  writeWorkflowBundle(out, { tracing }).then(
    (bytes) => console.error(`workflow bundle: ${out} (${Math.round(bytes / 1024)} KiB${tracing ? ', with tracing interceptors' : ''})`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
