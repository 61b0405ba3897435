/**
 * The agent's metrics, loaded only once an operator turns them on: prom-client and the
 * families cost the agent ≈ 5 MB of RSS and a few hundred milliseconds of start (measured),
 * which a node that never scrapes should not pay. Until then every hook is one
 * optional-chaining test. Once on, counting continues even if the address is emptied again,
 * so turning the endpoint back on shows everything since it was first on.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { ImageObserver } from "../image/mod.ts";
import type { AgentMetrics, MetricsEndpoint, ScrapeSources } from "../metrics/mod.ts";

/** What {@link MetricsSwitch} needs to build the metrics when first turned on. */
export interface MetricsSwitchOptions {
  logger: Logger;
  /** The RPC paths the CRI server serves. */
  rpcs: string[];
  version: string;
  /** Scrape-time readings of the runtime. */
  sources: ScrapeSources;
  /** Mode and group of a unix socket endpoint. */
  secureUnixSocket: (path: string) => Promise<void>;
}

/** The metrics, off until {@link MetricsSwitch.setAddress} names an address. */
export class MetricsSwitch {
  readonly #opts: MetricsSwitchOptions;
  #metrics: AgentMetrics | undefined;
  #endpoint: MetricsEndpoint | undefined;

  constructor(opts: MetricsSwitchOptions) {
    this.#opts = opts;
  }

  /** The families, once on (the hooks record into them). */
  get metrics(): AgentMetrics | undefined {
    return this.#metrics;
  }

  /** Where `/metrics` is served now, if anywhere. */
  get endpoint(): string | undefined {
    return this.#endpoint?.endpoint;
  }

  /**
   * Serves on `address` (already checked with `checkMetricsAddress`), loading the metrics
   * on first use; empty stops serving. A failed bind keeps the previous endpoint.
   */
  async setAddress(address: string): Promise<void> {
    if (address === "" && !this.#endpoint) return;
    if (!this.#endpoint) {
      const mod = await import("../metrics/mod.ts");
      const metrics = new mod.AgentMetrics(this.#opts.rpcs, this.#opts.version);
      metrics.setSources(this.#opts.sources);
      this.#endpoint = new mod.MetricsEndpoint({
        metrics,
        logger: this.#opts.logger,
        secureUnixSocket: this.#opts.secureUnixSocket,
      });
      this.#metrics = metrics;
    }
    await this.#endpoint.reconfigure(address);
  }

  /** Stops serving. */
  async close(): Promise<void> {
    await this.#endpoint?.close();
  }

  /** The image service's observer: records once the metrics are on. */
  imageObserver(): ImageObserver {
    return {
      pullStarted: () => this.#metrics?.pullStarted() ?? (() => {}),
      layerUnpacked: (seconds) => this.#metrics?.recordUnpack(seconds),
      collected: (r) => this.#metrics?.recordGc(r),
    };
  }
}
