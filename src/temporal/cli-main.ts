// `npm run -s temporal:cli`: provision the Temporal CLI ahead of time (CI does
// this so tests don't pay for the build) and print its path.
//
// stdout carries only the path so scripts can capture it; progress goes to
// stderr. With no go toolchain, nothing is printed and the exit code is 0: the
// SDK's own download is a valid fallback, not an error.
import { resolveTemporalCli } from './cli';

async function main(): Promise<void> {
  const exe = await resolveTemporalCli({ log: (line) => process.stderr.write(`${line}\n`) });
  if (exe.type === 'existing-path') process.stdout.write(`${exe.path}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
