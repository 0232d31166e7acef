import { errorGuard, ShallotError, type ShallotErrorOptions } from '@shallot/core';

/** An alert could not be delivered: handed to `onDeliveryFailure` listeners, never thrown at a request. */
export class AlertDeliveryError extends ShallotError {
  /** The circuit the alert was about. */
  readonly key: string;

  constructor(key: string, message: string, options: ShallotErrorOptions = {}) {
    super('ERR_ALERT_DELIVERY', `circuitOpenAlert: the alert for circuit '${key}' was not delivered: ${message}`, options);
    this.name = 'AlertDeliveryError';
    this.key = key;
  }
}

/** True for an {@link AlertDeliveryError} from any installed copy of this package. */
export const isAlertDeliveryError = errorGuard<AlertDeliveryError>('ERR_ALERT_DELIVERY');
