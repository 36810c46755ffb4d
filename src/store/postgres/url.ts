/** PostgreSQL connection URLs as operators write them, and as they may be shown. Pure. */

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // Options in the query string (password=…, sslpassword=…) are dropped whole.
    parsed.search = '';
    return parsed.toString();
  } catch {
    return 'the PostgreSQL URL given (not a valid URL)';
  }
}
