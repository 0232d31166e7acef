/**
 * Moves `user:password@` out of a URL: they become a Basic `Authorization` header (unless one
 * is set already), as got does, and the URL is left without them, so no URL shallot prints,
 * returns or throws carries them. Returns true when the URL had credentials.
 */
export function moveUrlCredentials(url: URL, headers: Headers): boolean {
  if (url.username === '' && url.password === '') return false;
  if (!headers.has('authorization')) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.set('authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
  }
  url.username = '';
  url.password = '';
  return true;
}
