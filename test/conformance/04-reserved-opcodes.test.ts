/**
 * Conformance category 4 against our client and our server (see conformance/).
 */
import { conformanceSuite } from './suite.js';

conformanceSuite(4);
