import type { Endpoint } from './endpoint.js';
import type { Strategy } from './options.js';

/** Chooses one of `candidates` (never empty, at least two long). */
export type Picker = (candidates: readonly Endpoint[], now: number) => Endpoint;

// Finagle's penalty: an endpoint with requests in flight and no answer yet looks as bad as can be.
const penalty = Number.MAX_VALUE / 2;

/** Each endpoint in turn, whatever its weight. */
function roundRobin(): Picker {
  let turn = 0;
  return (candidates) => {
    const chosen = candidates[turn % candidates.length] as Endpoint;
    turn = turn === 0x3fffffff ? 0 : turn + 1;
    return chosen;
  };
}

/**
 * nginx's smooth weighted round-robin: every pick adds each candidate's weight to its running
 * weight, takes the largest, and takes the total off the one taken. Weights 5:1:1 give
 * `a a b a c a a` rather than `a a a a a b c`.
 */
function weighted(): Picker {
  return (candidates) => {
    let best = candidates[0] as Endpoint;
    let total = 0;
    for (const endpoint of candidates) {
      endpoint.currentWeight += endpoint.weight;
      total += endpoint.weight;
      if (endpoint.currentWeight > best.currentWeight) best = endpoint;
    }
    best.currentWeight -= total;
    return best;
  };
}

/** A random endpoint, with probability in proportion to its weight. */
function random(): Picker {
  return (candidates) => {
    let total = 0;
    for (const endpoint of candidates) total += endpoint.weight;
    let r = Math.random() * total;
    for (const endpoint of candidates) {
      r -= endpoint.weight;
      if (r < 0) return endpoint;
    }
    return candidates[candidates.length - 1] as Endpoint;
  };
}

/** The power of two choices: the cheaper of two distinct endpoints drawn at random. */
function powerOfTwo(cost: (endpoint: Endpoint, now: number) => number): Picker {
  return (candidates, now) => {
    const n = candidates.length;
    const i = Math.floor(Math.random() * n);
    let j = Math.floor(Math.random() * (n - 1));
    if (j >= i) j++;
    const a = candidates[i] as Endpoint;
    const b = candidates[j] as Endpoint;
    return cost(b, now) < cost(a, now) ? b : a;
  };
}

/** Makes the picker of a strategy. */
export function createPicker(strategy: Strategy, ewmaDecayMs: number): Picker {
  switch (strategy) {
    case 'round-robin':
      return roundRobin();
    case 'weighted':
      return weighted();
    case 'random':
      return random();
    case 'least-request':
      return powerOfTwo((endpoint) => (endpoint.inFlight + 1) / endpoint.weight);
    case 'p2c-ewma':
      // Finagle's and Linkerd's cost: peak-EWMA latency times (outstanding + 1).
      return powerOfTwo((endpoint, now) => {
        const latency = endpoint.ewmaAt(now, ewmaDecayMs);
        if (latency === 0 && endpoint.inFlight > 0) return penalty;
        return (latency * (endpoint.inFlight + 1)) / endpoint.weight;
      });
  }
}
