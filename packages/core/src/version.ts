/** The version of @shallot/core (sent in the default `user-agent`); a test keeps it equal to package.json's. */
export const version = '0.1.0';
