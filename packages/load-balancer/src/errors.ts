import { errorGuard, ShallotError, type ShallotErrorOptions } from '@shallot/core';

/**
 * The balancer had no endpoint to send the request to: its endpoint set is empty (a provider
 * gave an empty list, or has not given one that could be used; then `cause` is its error).
 * Endpoints that are all unhealthy do not cause it: the balancer then spreads over all of them
 * (panic mode).
 */
export class NoHealthyEndpointError extends ShallotError {
  constructor(options: ShallotErrorOptions = {}) {
    super('ERR_NO_HEALTHY_ENDPOINT', 'no endpoint to send it to: the load balancer has an empty endpoint set', options);
    this.name = 'NoHealthyEndpointError';
  }
}

/** True for a {@link NoHealthyEndpointError} from any installed copy of shallot. */
export const isNoHealthyEndpointError = errorGuard<NoHealthyEndpointError>('ERR_NO_HEALTHY_ENDPOINT');
