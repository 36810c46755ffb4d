// Calls to the gateway's JSON API (same origin; the session cookie goes along by itself).

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    /** The error's other members (e.g. `space` of community_exists). */
    this.details = details;
  }
}

let inFlight = 0;
let waiters = [];

/** Resolves once no request is under way (so signing out does not race a refresh). */
export function idle() {
  return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve));
}

export async function api(method, path, body) {
  inFlight += 1;
  try {
    return await call(method, path, body);
  } finally {
    inFlight -= 1;
    if (inFlight === 0) {
      const done = waiters;
      waiters = [];
      done.forEach((resolve) => resolve());
    }
  }
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = {};
  }
  if (!response.ok) {
    const { code, message, ...details } = data.error ?? {};
    throw new ApiError(
      response.status,
      code ?? 'internal',
      message ?? `HTTP ${response.status}`,
      details,
    );
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
