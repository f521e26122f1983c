/**
 * Every conformance case, by category.
 */
import type { Case } from '../case.js';
import { autoFragmentationCases } from './auto-fragmentation.js';
import { compressionCases } from './compression.js';
import { clientNegotiationCases } from './negotiation-client.js';
import { serverNegotiationCases } from './negotiation-server.js';
import { closeCases } from './close.js';
import { fragmentationCases } from './fragmentation.js';
import { framingCases } from './framing.js';
import { limitCases } from './limits.js';
import { pingPongCases } from './ping-pong.js';
import { reservedBitsCases, reservedOpcodeCases } from './reserved.js';
import { utf8Cases } from './utf8.js';

export const allCases: Case[] = [
  ...framingCases,
  ...pingPongCases,
  ...reservedBitsCases,
  ...reservedOpcodeCases,
  ...fragmentationCases,
  ...utf8Cases,
  ...closeCases,
  ...limitCases,
  ...autoFragmentationCases,
  ...compressionCases,
  ...serverNegotiationCases,
  ...clientNegotiationCases,
];

/** The cases of `category`. */
export function casesOf(category: number): Case[] {
  return allCases.filter((c) => Number(c.id.split('.')[0]) === category);
}
