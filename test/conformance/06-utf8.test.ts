/**
 * Conformance category 6 against our client and our server (see conformance/).
 */
import { conformanceSuite } from './suite.js';

conformanceSuite(6);
