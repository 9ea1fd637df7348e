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

/** This module runs compiled (`npm run build`'s dist/src/temporal/bundle.js), not through tsx. */
const COMPILED = __filename.endsWith('.js');

/** dist/workflow-bundle.js at the repository's root, whether this runs from the sources or from dist/. */
export const DEFAULT_BUNDLE_PATH = COMPILED
  ? path.join(__dirname, '..', '..', 'workflow-bundle.js')
  : path.join(__dirname, '..', '..', 'dist', 'workflow-bundle.js');

/**
 * The bundle `npm run build` wrote beside the compiled code, when this process runs that code: a
 * worker started from dist/ loads it (WORKFLOW_BUNDLE_PATH still wins) instead of bundling at start.
 * From the sources, none: a bundle left in dist/ may be older than the workflows being edited.
 */
export const builtBundlePath = (): string | undefined => (COMPILED && fs.existsSync(DEFAULT_BUNDLE_PATH) ? DEFAULT_BUNDLE_PATH : undefined);

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
