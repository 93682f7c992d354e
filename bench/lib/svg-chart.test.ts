import { describe, expect, test } from "bun:test";
import { lineChart, ticks } from "./svg-chart.ts";

describe("lineChart()", () => {
  const svg = lineChart({
    title: "p50 <latency>", xLabel: "concurrency", yLabel: "ms", logX: true, logY: true,
    series: [
      { name: "tunnel2", points: [[1, 41], [10, 42], [50, 44], [1000, 60]] },
      { name: "locked & flushed", points: [[1, 41], [10, 60], [50, 190], [1000, 9000]] },
    ],
  });

  test("draws one line and one legend entry per series, escaping text", () => {
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)!.length).toBe(2);
    expect(svg).toContain("p50 &lt;latency&gt;");
    expect(svg).toContain("locked &amp; flushed");
    expect(svg.match(/<circle/g)!.length).toBe(8);
  });

  test("places points monotonically on log axes", () => {
    const line = svg.match(/<polyline[^>]*points="([^"]+)"/)![1].split(" ").map((p) => p.split(",").map(Number));
    for (let i = 1; i < line.length; i++) expect(line[i][0]).toBeGreaterThan(line[i - 1][0]);
    // Higher latency is higher on the page (smaller y).
    const locked = svg.match(/<polyline[^>]*points="([^"]+)"/g)![1];
    const ys = locked.match(/,([\d.]+)/g)!.map((s) => Number(s.slice(1)));
    expect(ys[3]).toBeLessThan(ys[0]);
  });

  test("ticks() covers the range with round values", () => {
    expect(ticks(1, 1000, true)).toEqual([1, 10, 100, 1000]);
    expect(ticks(0, 97, false)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(() => lineChart({ title: "", xLabel: "", yLabel: "", series: [{ name: "x", points: [[NaN, 1]] }] })).toThrow();
  });
});
