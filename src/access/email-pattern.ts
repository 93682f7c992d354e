/** A sign-on pattern: an address (`alice@acme.com`) or every address of a domain (`*@acme.com`). */
const PATTERN = /^(\*|[^@\s*]{1,64})@[A-Za-z0-9.-]{1,253}$/;

/** Why a pattern cannot be used, or undefined. */
export function emailPatternProblem(pattern: string): string | undefined {
  return PATTERN.test(pattern) ? undefined : `${JSON.stringify(pattern.slice(0, 60))} is not an email address or *@domain`;
}

/** Whether `email` matches one of `patterns` (case-insensitive; `*@acme.com` takes every address at acme.com, not its subdomains). */
export function emailAllowed(email: string, patterns: readonly string[]): boolean {
  const address = email.toLowerCase();
  const at = address.lastIndexOf("@");
  if (at < 1) return false;
  const domain = address.slice(at + 1);
  for (const pattern of patterns) {
    const p = pattern.toLowerCase();
    if (p.startsWith("*@") ? p.slice(2) === domain : p === address) return true;
  }
  return false;
}
