/**
 * Awaits a response and reads its body to the end, resolving to its status, or to the error
 * the request rejected with: for tests that fire many requests and count the outcomes.
 *
 * @example
 * const outcomes = await Promise.all(urls.map((url) => settle(client.get(url))));
 * expect(outcomes.filter((o) => o === 200)).toHaveLength(10);
 */
export async function settle(pending: Promise<Response>): Promise<number | unknown> {
  try {
    const response = await pending;
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    return error;
  }
}
