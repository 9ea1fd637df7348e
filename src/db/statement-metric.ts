/**
 * batchflow_db_statements_total: every statement a process sends through Kysely (BEGIN and COMMIT
 * are not statements here). Each process counts its own on its own /metrics, so an operator (and
 * `npm run bench`) sees how many statements the API and the worker each issue per item.
 */
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { Counter } from 'prom-client';
import { registry } from '../metrics/registry';

export const dbStatementsTotal = new Counter({
  name: 'batchflow_db_statements_total',
  help: 'SQL statements this process sent to the database through its query builder (transaction BEGIN/COMMIT not included).',
  registers: [registry],
});

/** Counted when a statement is compiled for execution: once per statement, whether it then succeeds or fails. */
export const statementMetric: KyselyPlugin = {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    dbStatementsTotal.inc();
    return args.node;
  },
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  },
};
