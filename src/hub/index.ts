/**
 * `wsstream/hub`: topics for WebSocket connections. Subscribe client or
 * server connections to topics, publish to a topic; in-process by default,
 * across processes with a broker (`wsstream/hub/redis`, or `clusterBroker()`
 * between node:cluster workers on one machine).
 */
export { Hub, type HubOptions, type PublishOptions } from './hub.js';
export {
  DEFAULT_MAX_QUEUE,
  SLOW_CONSUMER_CLOSE_CODE,
  type HubConnection,
  type SlowPolicy,
} from './subscriber.js';
export type { HubMessage, HubMessageInput } from './message.js';
export {
  HubError,
  HubErrorCode,
  type HubBroker,
  type BrokerEvents,
  type BrokerEvent,
} from './broker.js';
export {
  clusterBroker,
  clusterRelay,
  DEFAULT_MAX_IPC_PENDING_BYTES,
  type ClusterBrokerOptions,
  type ClusterRelayOptions,
} from './cluster.js';
