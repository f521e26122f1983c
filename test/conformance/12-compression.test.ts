/**
 * Conformance category 12, compression: messages through permessage-deflate
 * against our client and our server (see conformance/). The negotiation cases
 * of the category are in 12-negotiation.test.ts.
 */
import { compressionCases } from '../../conformance/cases/compression.js';
import { conformanceSuite } from './suite.js';

conformanceSuite(12, { label: 'messages', cases: compressionCases });
