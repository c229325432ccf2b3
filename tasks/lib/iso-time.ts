/**
 * The one reading of an ISO 8601 time a person or the Scheduler writes: restore's --before, a
 * scheduled run's SCHEDULED_TIME (tasks/lib/runtime.ts), a mute's from and until
 * (regime/maintenance-windows.ts); each caller first refuses a date alone (dateAlone), then checks
 * the form it takes. A day or hour that does not exist is refused, not rolled over as Date.parse does
 * (2027-02-29 is not 1 March, T24:00 not the next day).
 */

/** `2025-10-10`, `2025-10-10T02:00Z`, `2025-10-10T02:00:00.123Z`, `2025-10-10T02:00:00-04:00`. */
const ISO_TIME = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/;

/**
 * The problem with a date given alone (`2026-11-29`), or undefined for anything else. Whose midnight
 * it means is not written: read as UTC midnight, east of UTC it is hours after the local midnight meant
 * (a backup taken after the incident began), west of it hours before. The problem gives the example
 * with an offset, as a time of day without one is refused.
 */
export function dateAlone(text: string): string | undefined {
  if (!/^\d{4}-\d\d-\d\d$/.test(text)) return undefined;
  return `"${text}" is a date without a time of day and offset; give both, like ${text}T00:00:00-05:00 or ${text}T00:00:00Z, so the time read is the one you mean`;
}

/**
 * Reads an ISO 8601 time with its time of day and offset, or a one-line problem: not that shape, a
 * date alone (dateAlone), a day or hour that does not exist (2025-02-30 is not 2 March), or a time of
 * day without its offset (read as UTC it would pick a backup hours away from the one meant, as mutes
 * refuse it too).
 */
export function parseIsoTime(text: string): { at: Date } | { problem: string } {
  const alone = dateAlone(text);
  if (alone) return { problem: alone };
  const m = ISO_TIME.exec(text);
  if (!m) return { problem: `"${text}" is not an ISO time (2025-10-10T02:00:00Z)` };
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map((v) => Number(v ?? 0));
  const wall = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  if (wall.getUTCFullYear() !== y || wall.getUTCMonth() !== mo - 1 || wall.getUTCDate() !== d || wall.getUTCHours() !== h || wall.getUTCMinutes() !== mi || wall.getUTCSeconds() !== sec) {
    return { problem: `"${text}" is not a time that exists` };
  }
  if (m[8] === undefined) {
    return { problem: `"${text}" has no offset; add Z for UTC or the local offset (${text}-05:00), so the backup chosen is the one before the time you mean` };
  }
  const zone = m[8];
  if (zone !== "Z" && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(-2)) > 59)) return { problem: `"${text}" is not a time that exists` };
  const offsetMinutes = zone === "Z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  return { at: new Date(wall.getTime() + Math.floor(Number(m[7] ?? 0) * 1000) - offsetMinutes * 60_000) };
}
