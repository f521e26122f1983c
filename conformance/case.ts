/**
 * What a conformance case is: a script for the peer, the RFC rule it checks
 * and the outcome it expects, checked on the wire.
 */
import type { Peer, Under } from './peer.js';
import type { TargetOptions } from './targets.js';

export interface Case {
  /** Autobahn-style number: category.group.case. */
  id: string;
  /** What the peer does. */
  title: string;
  /** The RFC 6455 rule the case checks. */
  rule: string;
  /** The expected outcome: "echo", "fail 1002", "clean close 1000", ... */
  expected: string;
  /** Options of the implementation under test for this case. */
  options?: TargetOptions;
  /** Which implementations the case runs against; default both. */
  targets?: Under[];
  /** Part of the slow subset (`npm run conformance:slow`), not of `npm test`. */
  slow?: boolean;
  /** Milliseconds the whole case may take; default 15 s. */
  timeout?: number;
  /** The script: drives the peer and throws an ExpectationError when the implementation misbehaves. */
  run(peer: Peer): Promise<void>;
}

/** The categories, numbered as Autobahn|Testsuite's. */
export const CATEGORIES: Record<number, string> = {
  1: 'Framing',
  2: 'Ping/Pong',
  3: 'Reserved bits',
  4: 'Reserved opcodes',
  5: 'Fragmentation',
  6: 'UTF-8 handling',
  7: 'Close handling',
  9: 'Limits and performance',
  10: 'Auto-fragmentation',
  12: 'Compression',
};

/** The category number of a case id. */
export function categoryOf(c: Case): number {
  return Number(c.id.split('.')[0]);
}
