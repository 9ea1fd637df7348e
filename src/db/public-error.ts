/**
 * What an item's error may tell its tenant. Errors come from anywhere (a file system, a driver,
 * the runtime) and can name the server's own paths, which say how it is laid out: those become
 * `<path>` before the error is stored, since every reader of item_results (the items route, live
 * events, exports, webhooks' items_url, the compatibility routes) shows it to the tenant. The
 * worker's log and the Temporal UI keep the full message for operators.
 */
import type { ItemError } from './schema';

/**
 * An absolute file path of two segments or more (`/var/lib/batchflow/blobs/…`, `C:\data\…`),
 * starting where a word starts: the path part of a URL (`http://host:9/items/t1`) follows a host
 * and is kept.
 */
const SERVER_PATH = /(?<![\w.:/\\-])(?:[A-Za-z]:)?(?:[/\\][^\s'"`:,;()[\]{}<>/\\]+){2,}[/\\]?/g;

export const redactPaths = (message: string): string => message.replace(SERVER_PATH, '<path>');

export const publicError = (error: ItemError): ItemError => ({ ...error, message: redactPaths(error.message) });
