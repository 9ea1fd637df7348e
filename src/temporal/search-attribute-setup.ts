/**
 * Batchflow's custom search attributes (./search-attributes) on a Temporal namespace: which are
 * missing, registering them through the operator API, and the CLI command that does it by hand.
 * One place for the embedded dev server, `npm run worker`, `npm run migrate`, GET /readyz and the
 * submit path's 503. (Not imported by workflow code: ./search-attributes is the sandbox-safe half.)
 */
import type { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import type { Connection } from '@temporalio/client';
import { ALL_SEARCH_ATTRIBUTES } from './search-attributes';

/** A client Connection's or a NativeConnection's operator service. */
type OperatorService = Connection['operatorService'];

/** gRPC's ALREADY_EXISTS (@grpc/grpc-js is not a direct dependency). */
const ALREADY_EXISTS = 6;

export interface SearchAttributeSpec {
  name: string;
  type: SearchAttributeType;
}

export interface SearchAttributeCheck {
  /** Not registered on the namespace. */
  missing: SearchAttributeSpec[];
  /** Registered with another type: Temporal cannot retype one; only removing it (and its data) helps. */
  wrongType: SearchAttributeSpec[];
}

/** What the namespace has of ALL_SEARCH_ATTRIBUTES. Throws when Temporal cannot be asked. */
export async function checkSearchAttributes(operator: OperatorService, namespace: string): Promise<SearchAttributeCheck> {
  const { customAttributes } = await operator.listSearchAttributes({ namespace });
  const check: SearchAttributeCheck = { missing: [], wrongType: [] };
  for (const { name, type } of ALL_SEARCH_ATTRIBUTES) {
    const existing = customAttributes?.[name];
    if (existing === undefined || existing === null) check.missing.push({ name, type });
    else if (existing !== indexedType(name, type)) check.wrongType.push({ name, type });
  }
  return check;
}

function indexedType(name: string, type: SearchAttributeType): number {
  const wanted = encodeSearchAttributeIndexedValueType(type);
  if (wanted === undefined) throw new Error(`search attribute ${name} has unsupported type ${type}`);
  return wanted;
}

/** The CLI's spelling of each type (`--type Keyword`); the SDK's constants are upper case. */
const CLI_TYPE: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/**
 * The Temporal CLI command that registers `missing`: `--name` and `--type` pair up in order (a
 * lone `--type` after several names adds only the first). `address` is added when it is not the
 * CLI's default.
 */
export function registerCommand(missing: readonly SearchAttributeSpec[], opts: { namespace: string; address?: string }): string {
  const target = [
    ...(opts.address && opts.address !== 'localhost:7233' ? [`--address ${opts.address}`] : []),
    `--namespace ${opts.namespace}`,
  ];
  const pairs = missing.map(({ name, type }) => `--name ${name} --type ${CLI_TYPE[type]}`);
  return ['temporal operator search-attribute create', ...target, ...pairs].join(' ');
}

export type SearchAttributeSetup =
  | { state: 'ok' }
  | { state: 'registered'; added: string[] }
  /** Still missing: registration is turned off, or Temporal refused it. `fix` is the command to run. */
  | { state: 'missing'; missing: string[]; fix: string; reason: 'registration disabled' | 'registration refused'; error?: string }
  | { state: 'wrong type'; wrongType: string[]; fix: string };

export interface EnsureOptions {
  namespace: string;
  /** TEMPORAL_REGISTER_SEARCH_ATTRIBUTES: add what is missing (default true). */
  register?: boolean;
  /** For the fix command (the frontend as the operator would type it). */
  address?: string;
  log?: (line: string) => void;
}

/**
 * Makes sure the namespace has every attribute batchflow upserts, idempotently: nothing happens
 * when all are there; missing ones are added when `register` allows; otherwise (or when Temporal
 * refuses, e.g. permission denied) the result names what is missing and the command that fixes it.
 * Throws only when Temporal cannot be reached at all.
 */
export async function ensureSearchAttributes(operator: OperatorService, opts: EnsureOptions): Promise<SearchAttributeSetup> {
  const log = opts.log ?? (() => {});
  const check = await checkSearchAttributes(operator, opts.namespace);
  if (check.wrongType.length > 0) {
    const names = check.wrongType.map((a) => a.name);
    return {
      state: 'wrong type',
      wrongType: names,
      fix: `remove ${names.join(', ')} (temporal operator search-attribute remove --namespace ${opts.namespace} ${names.map((n) => `--name ${n}`).join(' ')}), then: ${registerCommand(check.wrongType, opts)}`,
    };
  }
  if (check.missing.length === 0) return { state: 'ok' };
  const missing = check.missing.map((a) => a.name);
  const fix = registerCommand(check.missing, opts);
  if (opts.register === false) return { state: 'missing', missing, fix, reason: 'registration disabled' };
  log(`registering search attributes missing from namespace ${opts.namespace}: ${missing.join(', ')}`);
  try {
    await operator.addSearchAttributes({
      namespace: opts.namespace,
      searchAttributes: Object.fromEntries(check.missing.map(({ name, type }) => [name, indexedType(name, type)])),
    });
  } catch (err) {
    // Another process registered the same ones a moment ago: fine, as long as they are all there now.
    if ((err as { code?: number }).code === ALREADY_EXISTS) {
      const again = await checkSearchAttributes(operator, opts.namespace);
      if (again.missing.length === 0 && again.wrongType.length === 0) return { state: 'registered', added: missing };
    }
    return { state: 'missing', missing, fix, reason: 'registration refused', error: (err as Error).message };
  }
  return { state: 'registered', added: missing };
}

/** One line for logs and for GET /readyz's `checks.temporal` (no raw server text). */
export function describeSetup(setup: SearchAttributeSetup): string {
  switch (setup.state) {
    case 'ok':
      return 'ok';
    case 'registered':
      return `registered search attributes ${setup.added.join(', ')}`;
    case 'missing':
      return `missing search attributes: ${setup.missing.join(', ')}`;
    case 'wrong type':
      return `search attributes with the wrong type: ${setup.wrongType.join(', ')}`;
  }
}

/**
 * What `npm run worker` and `npm run migrate` do at start: ensure the attributes (registering them
 * when TEMPORAL_REGISTER_SEARCH_ATTRIBUTES allows) and say what happened. When some stay missing,
 * the warning names them and the exact command that fixes it; the process carries on (the worker
 * still runs batches already started, and GET /readyz and every submit's 503 say the same).
 */
export async function setUpSearchAttributes(
  operator: OperatorService,
  opts: EnsureOptions & { info: (message: string) => void; warn: (message: string) => void },
): Promise<SearchAttributeSetup | undefined> {
  let setup: SearchAttributeSetup;
  try {
    setup = await ensureSearchAttributes(operator, opts);
  } catch (err) {
    opts.warn(`could not check the search attributes of Temporal namespace ${opts.namespace}: ${(err as Error).message}`);
    return undefined;
  }
  const message = startupMessage(setup, opts.namespace);
  if (setup.state === 'ok' || setup.state === 'registered') opts.info(message);
  else opts.warn(message);
  return setup;
}

function startupMessage(setup: SearchAttributeSetup, namespace: string): string {
  switch (setup.state) {
    case 'ok':
      return `Temporal namespace ${namespace} has batchflow's search attributes`;
    case 'registered':
      return `registered batchflow's search attributes on Temporal namespace ${namespace}: ${setup.added.join(', ')}`;
    case 'missing': {
      const why =
        setup.reason === 'registration disabled'
          ? 'TEMPORAL_REGISTER_SEARCH_ATTRIBUTES=false, so they were not registered'
          : `Temporal refused to register them (${setup.error ?? 'no reason given'})`;
      return `Temporal namespace ${namespace} lacks batchflow's search attributes ${setup.missing.join(', ')} (${why}); every submit answers 503 until they exist. Fix: ${setup.fix}`;
    }
    case 'wrong type':
      return `Temporal namespace ${namespace} has batchflow's search attributes ${setup.wrongType.join(', ')} with another type; every submit answers 503. Fix: ${setup.fix}`;
  }
}

/**
 * Why a workflow start failed, when the namespace lacks the attributes (the server's own error
 * only says "invalid argument"): a message for the 503 naming them and the fix; undefined when
 * they are all there or Temporal cannot be asked.
 */
export async function explainMissingSearchAttributes(
  operator: OperatorService,
  opts: { namespace: string; address?: string; timeoutMs?: number },
): Promise<string | undefined> {
  try {
    const check = await withTimeout(checkSearchAttributes(operator, opts.namespace), opts.timeoutMs ?? 2_000);
    if (check.missing.length === 0 && check.wrongType.length === 0) return undefined;
    const names = [...check.missing, ...check.wrongType].map((a) => a.name);
    const fix = check.missing.length > 0 ? registerCommand(check.missing, opts) : 'see the worker log';
    return `Temporal namespace ${opts.namespace} lacks the search attributes batchflow needs (${names.join(', ')}). A worker registers them at start unless TEMPORAL_REGISTER_SEARCH_ATTRIBUTES=false; or run: ${fix}`;
  } catch {
    return undefined;
  }
}

/** Rejects after `ms` (an unreachable server would otherwise hold the caller for gRPC's own timeouts). */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
