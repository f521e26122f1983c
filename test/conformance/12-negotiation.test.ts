/**
 * Conformance category 12, negotiation: every permessage-deflate offer our
 * server must decline or accept, and every answer our client must refuse or
 * accept (see conformance/cases/negotiation-*.ts).
 */
import { clientNegotiationCases } from '../../conformance/cases/negotiation-client.js';
import { serverNegotiationCases } from '../../conformance/cases/negotiation-server.js';
import { conformanceSuite } from './suite.js';

conformanceSuite(12, {
  label: 'negotiation',
  cases: [...serverNegotiationCases, ...clientNegotiationCases],
});
