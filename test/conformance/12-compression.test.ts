/**
 * Conformance category 12, compression, against our client and our server (see conformance/).
 */
import { conformanceSuite } from './suite.js';

conformanceSuite(12);
