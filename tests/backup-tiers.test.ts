import { describe, expect, it } from "vitest";
import { partSizeBytes } from "../tasks/backup";
import { compressionArgs, parseVersion } from "../tasks/lib/pgtools";
import { backupKeys, keyTimestamp, tierFor } from "../tasks/lib/tiers";

const rules = { weeklyDay: 0, monthlyDay: 1, timeZone: "UTC" };

describe("retention tiers", () => {
  it("chooses monthly on MONTHLY_DAY, weekly on WEEKLY_DAY, daily otherwise", () => {
    expect(tierFor(new Date("2025-06-01T02:00:00Z"), rules)).toBe("monthly"); // a Sunday and the 1st: monthly wins
    expect(tierFor(new Date("2025-06-08T02:00:00Z"), rules)).toBe("weekly");
    expect(tierFor(new Date("2025-06-09T02:00:00Z"), rules)).toBe("daily");
    expect(tierFor(new Date("2025-06-11T02:00:00Z"), { ...rules, weeklyDay: 3 })).toBe("weekly");
    expect(tierFor(new Date("2025-06-15T02:00:00Z"), { ...rules, monthlyDay: 15 })).toBe("monthly");
  });

  it("reads the calendar day in the configured time zone", () => {
    // 03:00 UTC on Monday the 9th is still Sunday the 8th in New York.
    expect(tierFor(new Date("2025-06-09T03:00:00Z"), { ...rules, timeZone: "America/New_York" })).toBe("weekly");
    expect(tierFor(new Date("2025-06-09T03:00:00Z"), rules)).toBe("daily");
  });

  it("builds sortable keys under <prefix><tier>/<database>/", () => {
    const at = new Date("2025-10-10T02:00:00.123Z");
    expect(keyTimestamp(at)).toBe("20251010T020000123Z");
    expect(backupKeys("pg", "daily", "shop", at)).toEqual({
      dump: "pg/daily/shop/20251010T020000123Z.dump",
      manifest: "pg/daily/shop/20251010T020000123Z.manifest.json",
    });
    expect(backupKeys("", "monthly", "shop", at).dump).toBe("monthly/shop/20251010T020000123Z.dump");
  });
});

describe("pg_dump versions and compression", () => {
  it("parses client and server version strings", () => {
    expect(parseVersion("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)")).toEqual({ major: 15, minor: 20, text: "15.20" });
    expect(parseVersion("pg_dump (PostgreSQL) 14.9")).toEqual({ major: 14, minor: 9, text: "14.9" });
    expect(parseVersion("pg_dump (PostgreSQL) 17beta1")).toEqual({ major: 17, minor: 0, text: "17beta1" });
  });

  it("maps COMPRESSION to pg_dump arguments, falling back to gzip:1 where the client lacks zstd/lz4", () => {
    const v15 = { major: 15, minor: 4, text: "15.4" };
    const v16 = { major: 16, minor: 2, text: "16.2" };
    expect(compressionArgs("auto", v15)).toEqual({ args: ["-Z", "1"], effective: "gzip:1" });
    expect(compressionArgs("auto", v16)).toEqual({ args: ["--compress=zstd:1"], effective: "zstd:1" });
    expect(compressionArgs("zstd:3", v16)).toEqual({ args: ["--compress=zstd:3"], effective: "zstd:3" });
    expect(compressionArgs("zstd:3", v15)).toEqual({ args: ["-Z", "1"], effective: "gzip:1", note: "pg_dump 15.4 has no zstd (PostgreSQL 16+); using gzip level 1" });
    expect(compressionArgs("gzip:6", v15)).toEqual({ args: ["-Z", "6"], effective: "gzip:6" });
    expect(compressionArgs("none", v16)).toEqual({ args: ["-Z", "0"], effective: "none" });
    expect(() => compressionArgs("brotli", v16)).toThrow('COMPRESSION: "brotli" is not one of auto, none, 0-9, gzip[:1-9], lz4[:1-12], zstd[:1-22]');
  });

  it("raises the part size when the estimated database would need more than 9000 parts", () => {
    expect(partSizeBytes(8)).toBe(8 * 1024 * 1024);
    expect(partSizeBytes(8, 10)).toBe(8 * 1024 * 1024);
    expect(partSizeBytes(8, 200)).toBe(Math.ceil((200 * 1024 ** 3) / 9000));
  });
});
