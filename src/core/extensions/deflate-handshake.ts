/**
 * permessage-deflate at the handshake's extension points
 * (core/handshake/extensions.ts): the client's offer and its check of the
 * answer, the server's answer to the offers. Each object serves one
 * handshake and keeps what was agreed, for the connection's transform.
 */
import { HandshakeError } from '../handshake/errors.js';
import type { ClientExtensions, ServerExtensions } from '../handshake/extensions.js';
import {
  acceptOffer,
  clientOffer,
  PERMESSAGE_DEFLATE,
  validateAnswer,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from './deflate-negotiation.js';

/** What a handshake agreed on: the parameters and the header element as sent. */
export interface DeflateAgreement {
  readonly params: DeflateParams;
  readonly header: string;
}

/** The client's permessage-deflate negotiation for one handshake. */
export class PerMessageDeflateClient implements ClientExtensions {
  readonly options: PerMessageDeflateOptions;
  /** Set by {@link accept} when the server agreed. */
  agreed: DeflateAgreement | null = null;

  constructor(options: PerMessageDeflateOptions = {}) {
    this.options = options;
  }

  offer(): string {
    return clientOffer(this.options);
  }

  /**
   * RFC 7692 7.1: the client fails the connection when the answer has an
   * unknown, repeated or invalid parameter, or one its offer did not allow;
   * the HandshakeError names the parameter.
   */
  accept(response: string): string {
    const answer = validateAnswer(response, this.options);
    if (!answer.ok) {
      throw new HandshakeError(
        'UNREQUESTED_EXTENSION',
        `Bad ${PERMESSAGE_DEFLATE} answer (${answer.param}): ${answer.message}`,
      );
    }
    this.agreed = answer.params === null ? null : { params: answer.params, header: answer.header };
    return answer.header;
  }
}

/** The server's permessage-deflate negotiation for one handshake. */
export class PerMessageDeflateServer implements ServerExtensions {
  readonly options: PerMessageDeflateOptions;
  /** Set by {@link respond} when an offer was accepted. */
  agreed: DeflateAgreement | null = null;

  constructor(options: PerMessageDeflateOptions = {}) {
    this.options = options;
  }

  /** The first acceptable offer's answer, '' for none; never throws on what the client sent. */
  respond(offer: string): string {
    this.agreed = acceptOffer(offer, this.options);
    return this.agreed?.header ?? '';
  }
}
