import type { BaseContext } from '@shallot/core';
import {
  ConstantBackoff,
  decorrelatedJitterGenerator,
  DelegateBackoff,
  ExponentialBackoff,
  fullJitterGenerator,
  type GeneratorFn,
  type IBackoff,
  type IBackoffFactory,
  noJitterGenerator,
} from 'cockatiel';
import type { ResolvedBackoffOptions } from './options.js';

/** What a backoff step sees: the attempt that just failed and its context. */
export interface BackoffStep {
  readonly attempt: number;
  readonly ctx: BaseContext;
}

/** A cockatiel backoff sequence, advanced once per retry. */
export type BackoffState = IBackoff<BackoffStep>;

const maxTimerMs = 2_147_483_647;

// cockatiel's no-jitter and full-jitter generators grow by a fixed factor of 2; these two follow
// `exponent` (our `multiplier`) the same way, for multipliers other than 2.
const scaledGenerator: GeneratorFn<number> = (attempts = 0, options) => [
  Math.min(options.maxDelay, options.initialDelay * options.exponent ** attempts),
  attempts + 1,
];
const scaledFullJitterGenerator: GeneratorFn<number> = (state, options) => {
  const [delay, next] = scaledGenerator(state, options);
  return [Math.floor(Math.random() * delay), next];
};

function generatorFor(jitter: 'decorrelated' | 'full' | 'none', multiplier: number): GeneratorFn<any> {
  if (jitter === 'decorrelated') return decorrelatedJitterGenerator;
  if (jitter === 'full') return multiplier === 2 ? fullJitterGenerator : scaledFullJitterGenerator;
  return multiplier === 2 ? noJitterGenerator : scaledGenerator;
}

function clamp(ms: number): number {
  if (!(ms > 0)) return 0;
  return ms > maxTimerMs ? maxTimerMs : ms;
}

/**
 * Builds the cockatiel backoff factory for the resolved options, once per `retry()`. A request
 * that succeeds first time never touches it; the first retry calls `next()` on the factory and
 * later retries advance the state it returned.
 */
export function createBackoff(options: ResolvedBackoffOptions): IBackoffFactory<BackoffStep> {
  switch (options.kind) {
    case 'constant':
      return new ConstantBackoff(options.delayMs);
    case 'custom': {
      const delay = options.delay;
      return new DelegateBackoff<BackoffStep>((step) => clamp(delay(step.attempt, step.ctx)));
    }
    case 'exponential':
      return new ExponentialBackoff({
        generator: generatorFor(options.jitter, options.multiplier),
        initialDelay: options.initialMs,
        maxDelay: options.maxMs,
        exponent: options.multiplier,
      });
  }
}
