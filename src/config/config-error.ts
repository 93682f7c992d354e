/** A configuration problem a user can fix; mains print it without a stack. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
