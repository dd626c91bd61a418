/**
 * Secrets kept out of what Vigil prints (config print and check, status, logs): the userinfo of
 * URLs, query parameters that carry credentials, and values of configured headers.
 */
const CREDENTIAL_PARAM = /(token|key|secret|passw|pwd|auth|sig|signature|credential|session)/i;
/**
 * Short names that carry credentials as a whole name only (InfluxDB 1.x takes `?u=…&p=…`): matched
 * exactly, so `pump` or `user_agent` are not masked.
 */
const CREDENTIAL_SHORT = new Set(['u', 'p', 'pw', 'pass', 'user', 'username', 'login']);
const isCredentialParam = (key: string) => CREDENTIAL_PARAM.test(key) || CREDENTIAL_SHORT.has(key.toLowerCase());
export const MASK = '********';

/** `url` with its user name, password and credential-like query parameters masked; other text unchanged. */
export function redactUrl(url: string): string {
  if (!url.includes('://')) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not parseable, yet it may hold userinfo: cut everything between :// and the last @ before the host.
    return url.replace(/(:\/\/)[^/@]*@/, `$1${MASK}@`);
  }
  if (u.username) u.username = MASK;
  if (u.password) u.password = MASK;
  for (const key of [...u.searchParams.keys()]) if (isCredentialParam(key)) u.searchParams.set(key, MASK);
  // URLSearchParams encodes the mask; the printed form should read as it.
  return u.toString().replaceAll(encodeURIComponent(MASK), MASK);
}

/** A deep copy of `value` with every URL in it redacted. */
export function redactUrlsDeep<T>(value: T): T {
  if (typeof value === 'string') return redactUrl(value) as T;
  if (Array.isArray(value)) return value.map(redactUrlsDeep) as T;
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactUrlsDeep(v)])) as T;
  return value;
}
