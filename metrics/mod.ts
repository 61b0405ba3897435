/**
 * Prometheus metrics of the agent: the families (`registry.ts`), the process collector
 * (`process.ts`) and the `/metrics` endpoint (`server.ts`). Only the composition root
 * imports this: the parts that are measured expose plain hooks and counters of their own.
 *
 * @module
 */
export {
  AgentMetrics,
  CONTAINER_STATES,
  POD_STATES,
  type PullFailure,
  type ScrapeSources,
  SHIM_KINDS,
} from "./registry.ts";
export { MetricsEndpoint, type MetricsEndpointOptions } from "./server.ts";
