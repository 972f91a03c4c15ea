import { describe, expect, test } from "bun:test";
import { slope, slopePerHour, soakSection, sparkline, quantile, type SoakResult, type SoakSample } from "../../bench/soak-report";

function sample(minute: number, over: Partial<SoakSample> = {}): SoakSample {
  return { minute, rssMiB: 100, heapUsedMiB: 20, fds: 30, watchStreams: 8, lagP50Ms: 40, lagMaxMs: 90, createLagP50Ms: 30, deleteLagP50Ms: 50, lagSamples: 10, listed: 16, calls: { GetSandbox: 240 }, errors: {}, missedEvents: 0, ...over };
}

describe("soak figures", () => {
  test("a figure growing 1 MiB a minute shows a slope of +60 MiB per hour, whatever its noise averages to", () => {
    const samples = Array.from({ length: 61 }, (_, m) => sample(m, { rssMiB: 100 + m + (m % 2 ? 3 : -3) }));
    expect(slopePerHour(samples, (s) => s.rssMiB)).toBeCloseTo(60, 0);
  });

  test("a flat figure has a zero slope and a flat sparkline", () => {
    expect(slope([0, 1, 2, 3], [5, 5, 5, 5])).toBe(0);
    expect(sparkline([5, 5, 5])).toBe("▁▁▁");
  });

  test("the sparkline spans its own minimum to maximum", () => {
    expect(sparkline([0, 7, 14])).toBe("▁▅█");
  });

  test("minutes without a measured lag are left out of its slope rather than read as zero", () => {
    const samples = [sample(0, { lagP50Ms: 10 }), sample(1, { lagP50Ms: Number.NaN }), sample(2, { lagP50Ms: 10 })];
    expect(slopePerHour(samples, (s) => s.lagP50Ms)).toBe(0);
  });

  test("the median of an even count is its lower middle value (nearest rank)", () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2);
    expect(quantile([], 0.5)).toBeNaN();
  });

  test("the BENCHMARKS.md section names every figure with its first and last value and both slopes", () => {
    const result: SoakResult = {
      command: "just soak 1h",
      at: "2026-12-07T18:40Z",
      machine: "test",
      commit: "abc1234",
      minutes: 60,
      pool: 16,
      watches: 8,
      samples: Array.from({ length: 61 }, (_, m) => sample(m, { fds: 30 + (m >= 10 ? 1 : 0) })),
      reconnects: 60,
      watchFailures: 0,
    };
    const section = soakSection(result);
    expect(section).toContain("## Soak, 60 minutes");
    expect(section).toContain("| RSS | 100.0 MiB | 100.0 MiB | 100.0 MiB – 100.0 MiB | +0.00 MiB/h | +0.00 MiB/h |");
    expect(section).toMatch(/\| open file descriptors \| 30 \| 31 \| 30 – 31 \| \+[\d.]+\/h \| \+0\.0\/h \|/);
    expect(section).toContain("GetSandbox 14,640");
    expect(section).toContain("Failed: none");
  });
});
