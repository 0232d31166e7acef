import { errorGuard, ShallotError, type ShallotErrorOptions } from '@shallot/core';

/** A token getter threw, or returned something that is not a non-empty string. `cause` is what it threw. */
export class AuthTokenError extends ShallotError {
  /** Which credential: `apiKey`, `bearer` or `oauth2`. */
  readonly credential: string;

  constructor(credential: string, message: string, options: ShallotErrorOptions = {}) {
    super('ERR_AUTH_TOKEN', `the ${credential} token getter ${message}`, options);
    this.name = 'AuthTokenError';
    this.credential = credential;
  }
}

/** True for an {@link AuthTokenError} from any copy of shallot. */
export const isAuthTokenError = errorGuard<AuthTokenError>('ERR_AUTH_TOKEN');
