/**
 * The contract's DateTime is ISO-8601 with an explicit offset (`2022-12-22T08:30:00+01:00`).
 * Vendors send zone-less local times, UTC with `Z`, or epoch values (JWT exp).
 */

const pad = (n: number, width = 2) => String(Math.abs(Math.trunc(n))).padStart(width, '0');

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  return `${sign}${pad(Math.abs(minutes) / 60)}:${pad(Math.abs(minutes) % 60)}`;
}

/** Epoch milliseconds as UTC, whole seconds: `2024-05-01T10:00:00+00:00`. */
export function isoFromEpoch(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+00:00`;
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/;
const WITH_ZONE = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Minutes east of UTC that `timeZone` observes at the instant `utcMs`. */
function zoneOffsetMinutes(utcMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(utcMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

/**
 * A zone-less local time (`2022-12-22 08:30:00`) read in `timeZone`, with that zone's offset at
 * that moment (daylight saving included). Empty or unreadable text gives null.
 */
export function isoFromLocal(text: string | null | undefined, timeZone = 'UTC'): string | null {
  if (!text) return null;
  const trimmed = text.trim();
  const zoned = WITH_ZONE.exec(trimmed);
  if (zoned) return normalizeZoned(zoned);
  const m = LOCAL.exec(trimmed);
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '00'] = m;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(wall)) return null;
  const body = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
  if (timeZone === 'UTC') return `${body}+00:00`;
  // The offset at the wall time's instant; a second pass settles times near a transition.
  let offset = zoneOffsetMinutes(wall, timeZone);
  offset = zoneOffsetMinutes(wall - offset * 60_000, timeZone);
  return `${body}${offsetText(offset)}`;
}

function normalizeZoned(m: RegExpExecArray): string {
  const [, date, time, zone] = m;
  const t = time!.length === 5 ? `${time}:00` : time;
  const z = zone!.toUpperCase() === 'Z' ? '+00:00' : zone!.includes(':') ? zone : `${zone!.slice(0, 3)}:${zone!.slice(3)}`;
  return `${date}T${t}${z}`;
}

/** A vendor timestamp that should carry a zone; zone-less ones are taken as UTC. */
export function isoFromVendor(text: string | null | undefined): string | null {
  return isoFromLocal(text, 'UTC');
}
