/**
 * The maintenance calendar as an SVG picture: a week grid (Mon..Sun, 24 hours) with every job at its
 * local time in its own timezone, a strip of the next 35 days with the monthly and quarterly jobs, and
 * a panel with the alarms' thresholds and severities. Pure and deterministic: the reference date is an
 * argument, the same input gives a byte-identical SVG.
 */
import { nextRuns, type Schedule } from "../regime/schedule";
import type { JobKind as KnownJobKind } from "../components/plan-record";

/** The kinds of job the picture colours: the program's (components/plan-record.ts), or any other word (a colour of EXTRA_COLORS). */
export type JobKind = KnownJobKind | (string & {});

export interface CalendarJob {
  name: string;
  kind: JobKind;
  schedule: Schedule;
}

export interface CalendarAlarm {
  name: string;
  /** The condition as a person reads it: "CPU > 80 % for 5 min". */
  threshold: string;
  /** P0..P3 (or any short label). */
  severity: string;
}

export interface CalendarInput {
  title?: string;
  jobs: CalendarJob[];
  alarms: CalendarAlarm[];
  /** Any instant in the week to draw; the month strip starts on its day. */
  reference: Date;
  /** Timezone that decides which calendar day `reference` is (default UTC). Jobs keep their own. */
  timezone?: string;
}

// ------------------------------------------------------------------ look

const FONT = "DejaVu Sans, Verdana, Arial, sans-serif";

/** One colour per known kind, in legend order; any other kind gets one of EXTRA_COLORS. */
const KIND_COLORS: Readonly<Record<string, string>> = {
  backup: "#2563eb",
  verify: "#0891b2",
  drill: "#7c3aed",
  vacuum: "#16a34a",
  analyze: "#4d7c0f",
  reindex: "#ca8a04",
  purge: "#c2410c",
  health: "#0d9488",
  watch: "#475569",
  reminder: "#db2777",
  logrotate: "#64748b",
  "log shipping": "#78716c",
  "file backup": "#1e40af",
} satisfies Record<KnownJobKind, string>;
const EXTRA_COLORS = ["#9333ea", "#0369a1", "#be123c", "#15803d", "#a16207", "#4338ca"];

const SEVERITY_COLORS: Record<string, string> = { P0: "#b91c1c", P1: "#ea580c", P2: "#ca8a04", P3: "#2563eb" };

export function kindColor(kind: string): string {
  const known = KIND_COLORS[kind];
  if (known) return known;
  let h = 0;
  for (const ch of kind) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return EXTRA_COLORS[h % EXTRA_COLORS.length];
}

function severityColor(sev: string): string {
  return SEVERITY_COLORS[sev.toUpperCase()] ?? "#475569";
}

// ------------------------------------------------------------------ svg helpers

/** Escapes text for XML content and attribute values; drops characters XML 1.0 forbids. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Numbers with at most one decimal, so output does not depend on float noise. */
const n = (v: number) => String(Math.round(v * 10) / 10);

/** Shortens text to about `px` pixels at `size` px font (average glyph width ~0.6 em). */
function fit(text: string, px: number, size: number): string {
  const max = Math.max(0, Math.floor(px / (size * 0.6)));
  if (text.length <= max) return text;
  return max <= 1 ? "" : text.slice(0, max - 1) + "…";
}

function textEl(x: number, y: number, content: string, attrs = ""): string {
  return `<text x="${n(x)}" y="${n(y)}"${attrs ? " " + attrs : ""}>${escapeXml(content)}</text>`;
}

// ------------------------------------------------------------------ time helpers

const DAY_MS = 86_400_000;
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

interface Local {
  /** Civil date as ms at UTC midnight. */
  day: number;
  hour: number;
  minute: number;
}

const localFormatters = new Map<string, Intl.DateTimeFormat>();

function local(t: Date, tz: string): Local {
  let f = localFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" });
    localFormatters.set(tz, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(t)) p[part.type] = part.value;
  return { day: Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day)), hour: Number(p.hour), minute: Number(p.minute) };
}

const pad2 = (v: number) => String(v).padStart(2, "0");
const isoDay = (day: number) => new Date(day).toISOString().slice(0, 10);

/** Local runs of a job whose civil date lies in [firstDay, firstDay + days). */
function localRuns(job: CalendarJob, firstDay: number, days: number, limit: number): Local[] {
  const from = new Date(firstDay - 2 * DAY_MS);
  const end = firstDay + (days + 2) * DAY_MS;
  const out: Local[] = [];
  const batch = nextRuns(job.schedule, from, limit);
  for (const r of batch) {
    if (r.getTime() > end) break;
    const l = local(r, job.schedule.timezone);
    if (l.day >= firstDay && l.day < firstDay + days * DAY_MS) out.push(l);
  }
  return out;
}

/** Jobs running more than this many times a day are drawn as a band, not as boxes. */
const BAND_RUNS_PER_DAY = 8;

function frequencyLabel(s: Schedule): string {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(s.expression);
  if (rate) return `every ${rate[1] === "1" ? "" : rate[1] + " "}${rate[2] === "minute" ? "min" : rate[2] === "hour" ? "h" : "d"}`.replace("every  ", "every ");
  return s.description;
}

// ------------------------------------------------------------------ layout

const M = 24; // outer margin
const TIME_COL = 48;
const COL_W = 150;
const LINE_H = 20; // one job line inside an hour row
const PANEL_GAP = 28;
const PANEL_W = 400;
const STRIP_LABEL_W = 200;
const STRIP_CELL = 36;
const STRIP_DAYS = 35;

export function renderCalendarSvg(input: CalendarInput): string {
  const tz = input.timezone ?? "UTC";
  const ref = local(input.reference, tz).day;
  const refDow = (new Date(ref).getUTCDay() + 6) % 7; // 0 = Monday
  const weekStart = ref - refDow * DAY_MS;

  const jobs = [...input.jobs].sort((a, b) => a.name.localeCompare(b.name, "en"));
  const banded = jobs.filter((j) => j.schedule.intervalSeconds > 0 && 86_400 / j.schedule.intervalSeconds > BAND_RUNS_PER_DAY);
  const boxed = jobs.filter((j) => !banded.includes(j));
  const monthly = jobs.filter((j) => j.schedule.intervalSeconds > 7 * 86_400);
  const kinds = [...new Set(jobs.map((j) => j.kind))].sort((a, b) => {
    const order = Object.keys(KIND_COLORS);
    const ia = order.indexOf(a) < 0 ? 99 : order.indexOf(a);
    const ib = order.indexOf(b) < 0 ? 99 : order.indexOf(b);
    return ia - ib || a.localeCompare(b, "en");
  });

  const gridW = TIME_COL + 7 * COL_W;
  const width = M + gridW + PANEL_GAP + PANEL_W + M;
  const out: string[] = [];
  const body: string[] = [];

  // Title and legend.
  let y = M + 20;
  const title = input.title ? `Maintenance calendar: ${input.title}` : "Maintenance calendar";
  body.push(textEl(M, y, title, `class="title"`));
  y += 22;
  const weekEnd = weekStart + 6 * DAY_MS;
  const zones = [...new Set(jobs.map((j) => j.schedule.timezone))].sort();
  body.push(
    textEl(
      M,
      y,
      `Week of ${fmtDay(weekStart)} to ${fmtDay(weekEnd)}. Times are local to each job's timezone: ${zones.join(", ") || tz}.`,
      `class="sub"`,
    ),
  );
  y += 24;
  let lx = M;
  for (const k of kinds) {
    body.push(`<rect x="${n(lx)}" y="${n(y - 11)}" width="14" height="14" rx="3" fill="${kindColor(k)}"/>`);
    body.push(textEl(lx + 20, y, k, `class="legend"`));
    lx += 28 + k.length * 7.5;
  }
  if (banded.length) {
    body.push(`<rect x="${n(lx)}" y="${n(y - 11)}" width="30" height="14" rx="3" fill="#94a3b8" fill-opacity="0.35" stroke="#64748b"/>`);
    body.push(textEl(lx + 36, y, "runs all day (band)", `class="legend"`));
  }
  y += 20;

  // Frequent jobs: one band each across the whole week.
  const gridX = M + TIME_COL;
  for (const j of banded) {
    const c = kindColor(j.kind);
    body.push(
      `<g><title>${escapeXml(`${j.name}: ${j.schedule.description} (${j.schedule.expression}, ${j.schedule.timezone})`)}</title>` +
        `<rect x="${n(gridX)}" y="${n(y)}" width="${n(7 * COL_W)}" height="20" rx="4" fill="${c}" fill-opacity="0.18" stroke="${c}"/>` +
        textEl(gridX + 8, y + 14, `${j.name}: ${frequencyLabel(j.schedule)}, all week`, `class="band" fill="${c}"`) +
        `</g>`,
    );
    y += 26;
  }
  if (banded.length) y += 4;

  // Week grid. Runs are grouped by (day, hour); an hour row grows so every job of it gets a line.
  const cells = new Map<string, { job: CalendarJob; at: Local }[]>();
  for (const j of boxed) {
    for (const r of localRuns(j, weekStart, 7, 7 * BAND_RUNS_PER_DAY + 32)) {
      const key = `${(r.day - weekStart) / DAY_MS}:${pad2(r.hour)}`;
      const list = cells.get(key) ?? [];
      list.push({ job: j, at: r });
      cells.set(key, list);
    }
  }
  const rowH: number[] = [];
  for (let h = 0; h < 24; h++) {
    let most = 1;
    for (let d = 0; d < 7; d++) most = Math.max(most, cells.get(`${d}:${pad2(h)}`)?.length ?? 0);
    rowH.push(most * LINE_H + 4);
  }
  const rowTop: number[] = [];
  const gridTop = y + 34;
  rowH.reduce((top, h, i) => ((rowTop[i] = top), top + h), gridTop);
  const gridBottom = rowTop[23] + rowH[23];

  for (let d = 0; d < 7; d++) {
    const x = gridX + d * COL_W;
    const day = weekStart + d * DAY_MS;
    const date = new Date(day);
    const isRef = day === ref;
    body.push(`<rect x="${n(x)}" y="${n(y)}" width="${COL_W}" height="30" fill="${isRef ? "#dbeafe" : "#f1f5f9"}" stroke="#cbd5e1"/>`);
    body.push(textEl(x + COL_W / 2, y + 20, `${WEEKDAYS[d]} ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]}`, `class="dayhead" text-anchor="middle"`));
    const changes = zones.filter((z) => clockChanges(day, z));
    if (changes.length) {
      body.push(
        `<g><title>${escapeXml(`clocks change in ${changes.join(", ")}: local times that do not exist are skipped, repeated ones run once`)}</title>` +
          `<rect x="${n(x + COL_W - 34)}" y="${n(y + 4)}" width="30" height="14" rx="3" fill="#f59e0b"/>` +
          textEl(x + COL_W - 19, y + 15, "DST", `class="dst" text-anchor="middle"`) +
          `</g>`,
      );
    }
  }
  for (let h = 0; h < 24; h++) {
    body.push(`<rect x="${n(gridX)}" y="${n(rowTop[h])}" width="${7 * COL_W}" height="${rowH[h]}" fill="${h % 2 ? "#ffffff" : "#f8fafc"}"/>`);
    body.push(textEl(gridX - 6, rowTop[h] + 15, `${pad2(h)}:00`, `class="hour" text-anchor="end"`));
  }
  for (let d = 0; d <= 7; d++) {
    const x = gridX + d * COL_W;
    body.push(`<line x1="${n(x)}" y1="${n(gridTop)}" x2="${n(x)}" y2="${n(gridBottom)}" stroke="#cbd5e1"/>`);
  }
  for (let h = 0; h <= 24; h++) {
    const ry = h < 24 ? rowTop[h] : gridBottom;
    body.push(`<line x1="${n(gridX)}" y1="${n(ry)}" x2="${n(gridX + 7 * COL_W)}" y2="${n(ry)}" stroke="${h % 6 ? "#e2e8f0" : "#cbd5e1"}"/>`);
  }
  for (const key of [...cells.keys()].sort()) {
    const [d, h] = key.split(":").map(Number);
    const list = cells.get(key)!.sort((a, b) => a.at.minute - b.at.minute || a.job.name.localeCompare(b.job.name, "en"));
    list.forEach(({ job, at }, i) => {
      const x = gridX + d * COL_W + 2;
      const ry = rowTop[h] + 2 + i * LINE_H;
      const c = kindColor(job.kind);
      const label = fit(`${pad2(at.hour)}:${pad2(at.minute)} ${job.name}`, COL_W - 12, 10);
      body.push(
        `<g><title>${escapeXml(`${job.name} (${job.kind}): ${job.schedule.description}, ${job.schedule.timezone}`)}</title>` +
          `<rect x="${n(x)}" y="${n(ry)}" width="${COL_W - 4}" height="${LINE_H - 2}" rx="3" fill="${c}"/>` +
          textEl(x + 4, ry + 13, label, `class="box"`) +
          `</g>`,
      );
    });
  }

  // Alarm panel.
  const px = M + gridW + PANEL_GAP;
  let py = y;
  const alarms = [...input.alarms].sort((a, b) => a.severity.localeCompare(b.severity, "en") || a.name.localeCompare(b.name, "en"));
  body.push(textEl(px, py + 20, `Alarms (${alarms.length})`, `class="heading"`));
  py += 34;
  if (!alarms.length) {
    body.push(textEl(px, py + 14, "no alarms", `class="muted"`));
    py += 24;
  }
  for (const a of alarms) {
    const c = severityColor(a.severity);
    body.push(
      `<g><title>${escapeXml(`${a.severity} ${a.name}: ${a.threshold}`)}</title>` +
        `<rect x="${n(px)}" y="${n(py)}" width="${PANEL_W}" height="38" rx="4" fill="#ffffff" stroke="#e2e8f0"/>` +
        `<rect x="${n(px)}" y="${n(py)}" width="40" height="38" rx="4" fill="${c}"/>` +
        textEl(px + 20, py + 24, fit(a.severity, 36, 12), `class="sev" text-anchor="middle"`) +
        textEl(px + 50, py + 16, fit(a.name, PANEL_W - 58, 11), `class="alarm"`) +
        textEl(px + 50, py + 31, fit(a.threshold, PANEL_W - 58, 10), `class="threshold"`) +
        `</g>`,
    );
    py += 44;
  }

  // Month strip: the next 35 days, one row per job that runs less often than weekly.
  let sy = Math.max(gridBottom, py) + 36;
  body.push(textEl(M, sy, `Next ${STRIP_DAYS} days from ${fmtDay(ref)}: monthly and quarterly jobs`, `class="heading"`));
  sy += 14;
  const sx = M + STRIP_LABEL_W;
  for (let i = 0; i < STRIP_DAYS; i++) {
    const day = ref + i * DAY_MS;
    const date = new Date(day);
    const dow = (date.getUTCDay() + 6) % 7;
    const x = sx + i * STRIP_CELL;
    const weekend = dow >= 5;
    body.push(`<rect x="${n(x)}" y="${n(sy)}" width="${STRIP_CELL}" height="34" fill="${weekend ? "#e2e8f0" : "#f1f5f9"}" stroke="#cbd5e1"/>`);
    body.push(textEl(x + STRIP_CELL / 2, sy + 13, WEEKDAYS[dow].slice(0, 2), `class="stripdow" text-anchor="middle"`));
    const first = date.getUTCDate() === 1 || i === 0;
    body.push(textEl(x + STRIP_CELL / 2, sy + 28, first ? `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]}` : String(date.getUTCDate()), `class="${first ? "stripmonth" : "stripday"}" text-anchor="middle"`));
  }
  sy += 38;
  if (!monthly.length) {
    body.push(textEl(sx, sy + 16, "no monthly or quarterly jobs", `class="muted"`));
    sy += 24;
  }
  for (const j of monthly) {
    const c = kindColor(j.kind);
    body.push(`<rect x="${n(M)}" y="${n(sy)}" width="${n(STRIP_LABEL_W + STRIP_DAYS * STRIP_CELL)}" height="26" fill="#ffffff" stroke="#e2e8f0"/>`);
    body.push(textEl(M + 6, sy + 13, fit(j.name, STRIP_LABEL_W - 12, 11), `class="alarm"`));
    body.push(textEl(M + 6, sy + 23, fit(j.schedule.description, STRIP_LABEL_W - 12, 8.5), `class="small"`));
    for (const r of localRuns(j, ref, STRIP_DAYS, 8)) {
      const i = (r.day - ref) / DAY_MS;
      const x = sx + i * STRIP_CELL + 1;
      body.push(
        `<g><title>${escapeXml(`${j.name}: ${isoDay(r.day)} ${pad2(r.hour)}:${pad2(r.minute)} ${j.schedule.timezone}`)}</title>` +
          `<rect x="${n(x)}" y="${n(sy + 3)}" width="${STRIP_CELL - 2}" height="20" rx="3" fill="${c}"/>` +
          textEl(x + (STRIP_CELL - 2) / 2, sy + 17, `${pad2(r.hour)}:${pad2(r.minute)}`, `class="striptime" text-anchor="middle"`) +
          `</g>`,
      );
    }
    sy += 30;
  }
  const height = sy + M;

  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" font-family="${FONT}">`,
  );
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(
    `<style>` +
      `.title{font-size:20px;font-weight:bold;fill:#0f172a}` +
      `.sub{font-size:12px;fill:#475569}` +
      `.legend{font-size:12px;fill:#1e293b}` +
      `.heading{font-size:14px;font-weight:bold;fill:#0f172a}` +
      `.dayhead{font-size:12px;font-weight:bold;fill:#1e293b}` +
      `.hour{font-size:10px;fill:#64748b}` +
      `.box{font-size:10px;fill:#ffffff}` +
      `.band{font-size:11px;font-weight:bold}` +
      `.sev{font-size:12px;font-weight:bold;fill:#ffffff}` +
      `.alarm{font-size:11px;font-weight:bold;fill:#0f172a}` +
      `.threshold{font-size:10px;fill:#475569}` +
      `.muted{font-size:11px;fill:#94a3b8;font-style:italic}` +
      `.small{font-size:8.5px;fill:#64748b}` +
      `.stripdow{font-size:9px;fill:#64748b}` +
      `.stripday{font-size:11px;fill:#1e293b}` +
      `.stripmonth{font-size:9px;font-weight:bold;fill:#1e293b}` +
      `.striptime{font-size:9px;fill:#ffffff}` +
      `.dst{font-size:9px;font-weight:bold;fill:#ffffff}` +
      `</style>`,
  );
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(...body);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** Whether the UTC offset of `tz` differs between the start and the end of a civil day. */
function clockChanges(day: number, tz: string): boolean {
  const at = (t: number) => {
    const l = local(new Date(t), tz);
    return l.day + (l.hour * 60 + l.minute) * 60_000 - t;
  };
  // Offsets in force at this local midnight and at the next one.
  const start = at(day - at(day));
  const end = at(day + DAY_MS - at(day + DAY_MS));
  return start !== end;
}

function fmtDay(day: number): string {
  const d = new Date(day);
  return `${WEEKDAYS[(d.getUTCDay() + 6) % 7]} ${isoDay(day)}`;
}
