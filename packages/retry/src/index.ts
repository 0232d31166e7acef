export { retryBudget, type RetryBudget, type RetryBudgetSnapshot } from './budget.js';
export { isMaxRetriesExceededError, MaxRetriesExceededError, type MaxRetriesExceededErrorOptions } from './errors.js';
export { type GiveUpEvent, type GiveUpReason, type RetryEvent, type Subscription } from './events.js';
export {
  idempotentMethods,
  retryableStatuses,
  retryBudgetOptionsSchema,
  retryOptionsSchema,
  type DelayFunction,
  type ResolvedBackoffOptions,
  type ResolvedRetryBudgetOptions,
  type ResolvedRetryOptions,
  type RetryBudgetOptions,
  type RetryOptions,
  type RetryOutcome,
  type ShouldRetry,
} from './options.js';
export { retry, type RetryContext, type RetryEvents, type RetryMiddleware } from './retry.js';
