// Custom search attributes for batch workflows.
//
// Workflow code imports this module, so it must stay deterministic and
// sandbox-safe: only `@temporalio/common` (plus erased type-only imports).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';

// Names carry a `Key` suffix so they never clash with domain types of the same
// name (e.g. the `BatchStatus` union in src/contracts/workflow.ts).
export const TenantIdKey = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const BatchStatusKey = defineSearchAttributeKey('BatchStatus', SearchAttributeType.KEYWORD);
export const ItemCountKey = defineSearchAttributeKey('ItemCount', SearchAttributeType.INT);
export const FailedCountKey = defineSearchAttributeKey('FailedCount', SearchAttributeType.INT);
export const PriorityKey = defineSearchAttributeKey('Priority', SearchAttributeType.KEYWORD);

// The dev server registers exactly this list at startup; anything a workflow
// upserts must be in here or the server rejects the command. Its SQLite store
// has fixed slots per namespace (3 INT, 10 KEYWORD), so INTs are scarce.
export const ALL_SEARCH_ATTRIBUTES: readonly SearchAttributeKey<SearchAttributeType>[] = [
  TenantIdKey,
  BatchStatusKey,
  ItemCountKey,
  FailedCountKey,
  PriorityKey,
];
