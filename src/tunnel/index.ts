/**
 * The secure channel between two devices (docs/tunnel-channel.md): an authenticated, forward
 * secret handshake from HPKE auth mode, then a stream of ChaCha20-Poly1305 records, over any
 * Duplex (a relay leg or a direct TCP connection).
 */
export {
  openInitiator,
  openResponder,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type InitiatorOptions,
  type ResponderOptions,
} from './open.js';
export { SecureStream } from './secure-stream.js';
export { MAX_SERVICE_BYTES, TUNNEL_VERSION } from './handshake.js';
export { MAX_BODY_BYTES as MAX_RECORD_DATA_BYTES } from './records.js';
