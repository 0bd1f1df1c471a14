import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import type { DocumentNode } from 'graphql';

/**
 * Bytes a parsed document holds. Its `loc` keeps the whole source text (comments included), which
 * JSON (Apollo's own measure) leaves out: a valid document with a megabyte of comment would count
 * as a few hundred bytes while holding a megabyte.
 */
export function documentBytes(document: DocumentNode): number {
  return (document.loc?.source.body.length ?? 0) + Buffer.byteLength(JSON.stringify(document));
}

/**
 * Apollo Server's parsed-document cache, bounded by what the documents really hold; a document
 * larger than an eighth of the budget is parsed each time instead of kept.
 */
export function documentStore(maxBytes: number): InMemoryLRUCache<DocumentNode> {
  return new InMemoryLRUCache<DocumentNode>({
    maxSize: Math.max(1, maxBytes),
    maxEntrySize: Math.max(1, Math.floor(maxBytes / 8)),
    sizeCalculation: (document) => Math.max(1, documentBytes(document)),
  });
}

/**
 * Automatic persisted queries, kept in this process: at most `maxBytes` of query text, none larger
 * than `maxDocumentBytes` (such a query runs, but is not registered: its client sends it whole).
 */
export function persistedQueryStore(maxBytes: number, maxDocumentBytes: number): InMemoryLRUCache<string> {
  return new InMemoryLRUCache<string>({
    maxSize: Math.max(1, maxBytes),
    maxEntrySize: Math.max(1, maxDocumentBytes),
    sizeCalculation: (query) => Math.max(1, query.length),
  });
}
