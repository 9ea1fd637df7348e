/**
 * `npm run build`'s second step. `tsc -p tsconfig.build.json` has compiled src/, activities/ and
 * workflows/ to dist/, keeping their layout (dist/src/main/api.js). This copies beside the compiled
 * code what it reads from disk (the console's static files, the classifier's taxonomy) and bundles
 * the workflows once into dist/workflow-bundle.js, which a worker started from dist/ loads instead
 * of bundling at start. It runs compiled itself (`node dist/src/main/build.js`): building needs the
 * TypeScript compiler, and running what was built needs neither it nor tsx.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_BUNDLE_PATH, writeWorkflowBundle } from '../temporal/bundle';

const DIST = path.resolve(__dirname, '..', '..');
const ROOT = path.resolve(DIST, '..');

/** Files the compiled code opens by path (relative to the repository, and to dist/ alike). */
const ASSETS = ['src/console', 'activities/stages/classify/taxonomy.json'];

async function main(): Promise<void> {
  if (path.basename(DIST) !== 'dist') throw new Error(`run the compiled build step (node dist/src/main/build.js), not ${__filename}`);
  for (const asset of ASSETS) fs.cpSync(path.join(ROOT, asset), path.join(DIST, asset), { recursive: true });
  const bytes = await writeWorkflowBundle(DEFAULT_BUNDLE_PATH);
  console.error(
    `built ${path.relative(ROOT, DIST)}/: assets ${ASSETS.join(', ')}; ${path.relative(ROOT, DEFAULT_BUNDLE_PATH)} (${Math.round(bytes / 1024)} KiB)`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
