/** Bad input on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';

  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
