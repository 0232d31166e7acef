import { type Counter, createNoopMeter, type Histogram, type MeterProvider, metrics, type UpDownCounter } from '@opentelemetry/api';
import { durationBuckets } from './http-attributes.js';

/** The instrumentation scope: the package's name and version. */
export const scopeName = '@shallot/tracing';
/** The version reported with the scope. */
export const scopeVersion = '0.1.0';

/** Every metric instrument `tracing()` records to. */
export interface Instruments {
  /** `http.client.request.duration` (s): one value per logical request. */
  readonly duration: Histogram;
  /** `http.client.active_requests`: logical requests in flight. */
  readonly active: UpDownCounter;
  /** `shallot.client.retries`: attempts after the first, sent one after another. */
  readonly retries: Counter;
  /** `shallot.client.hedges`: attempts sent while another was still in flight. */
  readonly hedges: Counter;
  /** `shallot.client.circuit_breaker.transitions`: breaker state changes seen by requests. */
  readonly breakerTransitions: Counter;
  /** `shallot.client.cache.requests`, by `shallot.cache.status` (HIT, MISS, STALE...). */
  readonly cacheRequests: Counter;
  /** `shallot.client.rate_limit.waits`: requests that waited for the rate limiter. */
  readonly limiterWaits: Counter;
  /** `shallot.client.rate_limit.wait.duration` (s): how long they waited. */
  readonly limiterWaitDuration: Histogram;
  /** False when the provider is the API's no-op one: nothing recorded goes anywhere. */
  readonly recording: boolean;
}

const NoopMeter = createNoopMeter().constructor;

function create(provider: MeterProvider): Instruments {
  const meter = provider.getMeter(scopeName, scopeVersion);
  return {
    recording: !(meter instanceof NoopMeter),
    duration: meter.createHistogram('http.client.request.duration', {
      description: 'Duration of HTTP client requests.',
      unit: 's',
      advice: { explicitBucketBoundaries: durationBuckets },
    }),
    active: meter.createUpDownCounter('http.client.active_requests', {
      description: 'Number of outbound HTTP requests that are currently active on the client.',
      unit: '{request}',
    }),
    retries: meter.createCounter('shallot.client.retries', { description: 'Attempts sent again after a failed one.', unit: '{retry}' }),
    hedges: meter.createCounter('shallot.client.hedges', { description: 'Extra attempts sent while an earlier one was still in flight.', unit: '{hedge}' }),
    breakerTransitions: meter.createCounter('shallot.client.circuit_breaker.transitions', {
      description: 'Circuit breaker state changes, by the state entered.',
      unit: '{transition}',
    }),
    cacheRequests: meter.createCounter('shallot.client.cache.requests', { description: 'Requests through the cache, by cache status.', unit: '{request}' }),
    limiterWaits: meter.createCounter('shallot.client.rate_limit.waits', { description: 'Requests that waited for the rate limiter.', unit: '{request}' }),
    limiterWaitDuration: meter.createHistogram('shallot.client.rate_limit.wait.duration', {
      description: 'Time spent waiting for the rate limiter.',
      unit: 's',
      advice: { explicitBucketBoundaries: durationBuckets },
    }),
  };
}

/**
 * The instruments of a fixed provider, or of the global one as it is now: a global provider
 * registered after the client was built is picked up (the metrics API has no proxy provider,
 * unlike the trace API).
 */
export function instrumentSource(fixed: MeterProvider | undefined): () => Instruments {
  if (fixed !== undefined) {
    const instruments = create(fixed);
    return () => instruments;
  }
  let provider: MeterProvider | undefined;
  let instruments: Instruments | undefined;
  return () => {
    const current = metrics.getMeterProvider();
    if (current !== provider || instruments === undefined) {
      provider = current;
      instruments = create(current);
    }
    return instruments;
  };
}
