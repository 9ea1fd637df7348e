/**
 * `npm run cluster -- up|down|status`: the two-node Temporal cluster of test/cluster/cluster.ts, by
 * hand. `up` builds what is missing (the first time, a few minutes), recreates Temporal's two
 * databases and leaves the cluster running; `down` stops what `up` started, and nothing else.
 */
import { clusterLayout, down, readState, scrapeMetrics, up } from './cluster';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(command: string | undefined): Promise<void> {
  const layout = clusterLayout();
  switch (command) {
    case 'up': {
      const state = await up({ layout, log });
      console.log(
        [
          `TEMPORAL_ADDRESS=${layout.address}`,
          `TEMPORAL_NAMESPACE=${layout.namespace}`,
          `# Web UI: ${layout.uiUrl}/namespaces/${layout.namespace}/workflows`,
          ...state.procs.map((p) => `# ${p.name}: pid ${p.pid}, log ${p.log}`),
        ].join('\n'),
      );
      return;
    }
    case 'down': {
      const state = readState(layout);
      if (!state) return log(`nothing to stop (no ${layout.dir}/state.json)`);
      return down(state, log);
    }
    case 'status': {
      const state = readState(layout);
      if (!state) return log('not running');
      for (const p of state.procs) console.log(`${p.name}\tpid ${p.pid}\t${p.log}`);
      for (let i = 0; i < layout.nodes.length; i++) {
        const shards = await scrapeMetrics(layout, i).then(
          (text) => text.split('\n').find((l) => l.startsWith('numshards_gauge')) ?? 'numshards_gauge: none yet',
          (err: Error) => `unreachable (${err.message})`,
        );
        console.log(`node${i + 1}\t${shards}`);
      }
      return;
    }
    default:
      throw new Error('usage: npm run cluster -- up|down|status');
  }
}

main(process.argv[2]).catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
