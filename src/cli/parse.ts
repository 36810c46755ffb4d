/** Parsing of command-line values. Pure; each failure is a P2PError naming the option. */
import { P2PError } from '../errors.js';

const UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * A point in time: milliseconds since the epoch, an ISO 8601 date, or a duration ago such as
 * 90s, 15m, 2h, 7d or 1w.
 */
export function parseSince(option: string, text: string, now = Date.now()): number {
  const relative = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (relative) return Math.max(0, now - Math.round(Number(relative[1]) * UNITS[relative[2]!]!));
  if (/^\d{1,16}$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const value = Date.parse(text);
    if (!Number.isNaN(value)) return value;
  }
  throw new P2PError(
    'bad_argument',
    `${option}: expected a time (ms since epoch, ISO date, or 15m/2h/7d ago), got "${text}"`,
  );
}

/** A duration such as 30s, 10m, 12h, 7d (used for --expires). */
export function parseDuration(option: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (!match)
    throw new P2PError(
      'bad_argument',
      `${option}: expected a duration such as 30s, 10m, 12h or 7d, got "${text}"`,
    );
  return Math.round(Number(match[1]) * UNITS[match[2]!]!);
}

export function parseIntOption(option: string, text: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new P2PError(
      'bad_argument',
      `${option}: expected an integer in ${min}..${max}, got "${text}"`,
    );
  }
  return Number(text);
}

export function parseNumberOption(option: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new P2PError(
      'bad_argument',
      `${option}: expected a number in ${min}..${max}, got "${text}"`,
    );
  }
  return value;
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
