/** One line of a chart. */
export interface Series {
  name: string;
  points: [x: number, y: number][];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Logarithmic axes (concurrency and latency span decades). */
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Round, readable tick values covering [min, max]. */
export function ticks(min: number, max: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let p = Math.floor(Math.log10(min)); p <= Math.ceil(Math.log10(max)); p++) out.push(10 ** p);
    return out;
  }
  const span = max - min || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.floor(min / nice) * nice; v <= max + nice / 2; v += nice) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v >= 1000 && v % 1000 === 0) return `${v / 1000}k`;
  return v < 1 ? String(Number(v.toPrecision(2))) : String(Number(v.toFixed(1)));
}

/** A self-contained SVG line chart: axes, ticks, one colored line per series, a legend. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const margin = { top: 40, right: 190, bottom: 50, left: 70 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) throw new Error("lineChart: no finite points");
  const positive = (v: number, log?: boolean) => (log ? Math.max(v, 1e-3) : v);
  const xs = all.map(([x]) => positive(x, o.logX));
  const ys = all.map(([, y]) => positive(y, o.logY));
  const xTicks = ticks(Math.min(...xs), Math.max(...xs), !!o.logX);
  const yTicks = ticks(o.logY ? Math.min(...ys) : 0, Math.max(...ys), !!o.logY);
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const f = (v: number, a: number, b: number, log?: boolean) =>
    log ? (Math.log10(positive(v, true)) - Math.log10(a)) / (Math.log10(b) - Math.log10(a) || 1) : (v - a) / (b - a || 1);
  const px = (x: number) => margin.left + f(x, x0, x1, o.logX) * plotW;
  const py = (y: number) => margin.top + plotH - f(y, y0, y1, o.logY) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${margin.left}" y="24" font-size="15" font-weight="bold">${escape(o.title)}</text>`,
  ];
  for (const t of xTicks) {
    parts.push(`<line x1="${px(t)}" y1="${margin.top}" x2="${px(t)}" y2="${margin.top + plotH}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${px(t)}" y="${margin.top + plotH + 18}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of yTicks) {
    parts.push(`<line x1="${margin.left}" y1="${py(t)}" x2="${margin.left + plotW}" y2="${py(t)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${margin.left - 8}" y="${py(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#9ca3af"/>`);
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escape(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`);
    for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = margin.top + 10 + i * 20;
    parts.push(`<line x1="${margin.left + plotW + 14}" y1="${ly}" x2="${margin.left + plotW + 34}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${margin.left + plotW + 40}" y="${ly + 4}">${escape(s.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}
