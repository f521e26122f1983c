/**
 * Conformance category 2 against our client and our server (see conformance/).
 */
import { conformanceSuite } from './suite.js';

conformanceSuite(2);
