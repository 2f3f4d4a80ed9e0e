/**
 * The policy controller's Prometheus metrics, every name and label in one place, in a Registry
 * of its own (never prom-client's global one), so that two controllers in a process, or two
 * tests, cannot see each other's numbers.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PolicyApiMetrics } from '../api/server.ts';

export interface ControllerMetrics extends PolicyApiMetrics {
  registry: Registry;
  /** `policy_controller_ready`: 1 once every collection has been listed and an index built. */
  ready: Gauge;
  /** `policy_controller_api_server_reachable{resource}`: 0 while listing or watching that collection fails. */
  reachable: Gauge<'resource'>;
  /** `policy_controller_objects{resource}`: objects in the cache. */
  objects: Gauge<'resource'>;
  /** `policy_controller_invalid_resources{resource}`: objects left out because they do not validate. */
  invalid: Gauge<'resource'>;
  /** `policy_controller_index_builds_total`. */
  builds: Counter;
  /** `policy_controller_index_build_duration_seconds`: from the debounced change to the new index. */
  buildDuration: Histogram;
  /** `policy_controller_index_pods`: pods the index holds. */
  pods: Gauge;
  /** `policy_controller_index_timestamp_seconds`: when the index in use was built. */
  builtAt: Gauge;
}

export function createControllerMetrics(options: { processMetrics?: boolean } = {}): ControllerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    ready: new Gauge({ name: 'policy_controller_ready', help: '1 once every watched collection has been listed and an index built', registers }),
    reachable: new Gauge({ name: 'policy_controller_api_server_reachable', help: '0 while listing or watching the collection fails; the last index stays in use', labelNames: ['resource'], registers }),
    objects: new Gauge({ name: 'policy_controller_objects', help: 'Objects in the cache, by collection', labelNames: ['resource'], registers }),
    invalid: new Gauge({ name: 'policy_controller_invalid_resources', help: 'Objects left out of the policy because they do not validate', labelNames: ['resource'], registers }),
    builds: new Counter({ name: 'policy_controller_index_builds_total', help: 'Policy indexes built', registers }),
    buildDuration: new Histogram({ name: 'policy_controller_index_build_duration_seconds', help: 'Time to assemble the resources and build the index', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers }),
    pods: new Gauge({ name: 'policy_controller_index_pods', help: 'Pods in the policy index', registers }),
    builtAt: new Gauge({ name: 'policy_controller_index_timestamp_seconds', help: 'When the index in use was built', registers }),
    requests: new Counter({ name: 'policy_api_requests_total', help: 'InboundServerPolicies calls, by method and final status', labelNames: ['method', 'code'], registers }),
    watchStreams: new Gauge({ name: 'policy_api_watch_streams', help: 'Open WatchPort streams', registers }),
    updates: new Counter({ name: 'policy_api_updates_total', help: 'Server messages sent on WatchPort streams', registers }),
  };
}
