/**
 * A Redis client error as the entry's log says it: ioredis's own words for
 * "not connected right now" name its options, not the situation.
 */
export function redisErrorText(err: Error): string {
  if (/Stream isn't writeable and enableOfflineQueue/i.test(err.message)) return "not connected to Redis (reconnecting)";
  if (/ECONNREFUSED/.test(err.message)) return `connection refused (${err.message.replace(/^.*ECONNREFUSED\s*/, "")})`.replace(" ()", "");
  return err.message;
}
