/**
 * The publish stage: each item goes to the publish target, over HTTP (http.ts) when PUBLISH_URL is
 * set, else to the built-in catalog (catalog.ts). The target is picked once, here, and gives the
 * stage its publisher and its undo together (undo.ts): finding whether a publish in doubt created
 * the remote item, and deleting what was published.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../../src/db/schema';
import type { StageModule } from '../runner';
import { catalogPublisher } from './catalog';
import { httpPublisher } from './http';
import { catalogResolver, catalogUnpublisher, httpResolver, httpUnpublisher, publishUndo, type PublishUndo } from './undo';

export interface PublishOptions {
  /** PUBLISH_URL: the HTTP target; absent, the built-in catalog. */
  url?: string;
  /** Each request to an HTTP target. */
  timeoutMs: number;
}

/** Requests in flight at once from one chunk call to an HTTP target. */
const HTTP_CONCURRENCY = 8;

export function publishStage(db: Kysely<Database>, opts: PublishOptions): StageModule<PublishUndo> {
  if (opts.url) {
    const target = { baseUrl: opts.url, timeoutMs: opts.timeoutMs };
    return {
      handler: httpPublisher({ ...target, concurrency: HTTP_CONCURRENCY }),
      undo: publishUndo({ resolve: httpResolver(target), unpublish: httpUnpublisher(target) }),
    };
  }
  return { handler: catalogPublisher(db), undo: publishUndo({ resolve: catalogResolver(db), unpublish: catalogUnpublisher(db) }) };
}
