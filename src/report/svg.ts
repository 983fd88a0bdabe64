/**
 * Inline SVG charts for the HTML run report: bars drawn from numbers, no script, no font or file
 * fetched. Every text is escaped.
 */

/** Text made safe inside HTML and SVG (elements and quoted attributes). */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** A number as the report prints it: four significant digits, integers whole. */
export function figure(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

/** One series of a bar chart. */
export interface Series {
  readonly name: string;
  readonly values: readonly number[];
  readonly color: string;
}

const WIDTH = 470;
const HEIGHT = 180;
const LEFT = 44;
const BOTTOM = 34;

/**
 * Vertical bars, one group per label, one bar per series in each (e.g. the reference's and the inputs'
 * shares per bin), on a shared scale from 0, with a legend.
 */
export function barChart(title: string, labels: readonly string[], series: readonly Series[]): string {
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const plotW = WIDTH - LEFT - 8;
  const plotH = HEIGHT - BOTTOM - 18;
  const group = plotW / Math.max(labels.length, 1);
  const bar = Math.max(1, (group * 0.8) / Math.max(series.length, 1));
  const y = (v: number) => 18 + plotH - (max === 0 ? 0 : (v / max) * plotH);
  const bars = series.flatMap((s, k) =>
    s.values.map((v, i) => {
      const top = y(Number.isFinite(v) ? v : 0);
      const x = LEFT + i * group + group * 0.1 + k * bar;
      return (
        `<rect class="bar" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${bar.toFixed(1)}" ` +
        `height="${(18 + plotH - top).toFixed(1)}" fill="${s.color}"><title>${escapeHtml(
          `${s.name} ${labels[i] ?? ""}: ${figure(v)}`,
        )}</title></rect>`
      );
    }),
  );
  // Every label of a few bins; of more, every other one or fewer, so that they do not overlap.
  const step = Math.ceil(labels.length / 6);
  const ticks = labels
    .map((label, i) =>
      i % step === 0
        ? `<text x="${(LEFT + i * group + group / 2).toFixed(1)}" y="${HEIGHT - BOTTOM + 14}" ` +
          `text-anchor="middle">${escapeHtml(shorten(label))}</text>`
        : "",
    )
    .join("");
  const legend = series
    .map(
      (s, k) =>
        `<rect x="${LEFT + k * 150}" y="2" width="10" height="10" fill="${s.color}"/>` +
        `<text x="${LEFT + k * 150 + 14}" y="11">${escapeHtml(s.name)}</text>`,
    )
    .join("");
  const axis =
    `<line x1="${LEFT}" y1="${18 + plotH}" x2="${WIDTH - 8}" y2="${18 + plotH}" stroke="#888"/>` +
    `<text x="${LEFT - 4}" y="22" text-anchor="end">${figure(max)}</text>` +
    `<text x="${LEFT - 4}" y="${18 + plotH}" text-anchor="end">0</text>`;
  return svg(title, `${legend}${axis}${bars.join("")}${ticks}`);
}

/** Horizontal bars, one per label (e.g. seconds per step). */
export function hbarChart(
  title: string,
  labels: readonly string[],
  values: readonly number[],
  unit: string,
): string {
  const max = Math.max(0, ...values);
  const row = 20;
  const height = Math.max(row * labels.length + 8, 28);
  const left = 110;
  const plotW = WIDTH - left - 70;
  const rows = labels.map((label, i) => {
    const v = values[i] ?? 0;
    const w = max === 0 ? 0 : (v / max) * plotW;
    const top = 4 + i * row;
    return (
      `<text x="${left - 6}" y="${top + 13}" text-anchor="end">${escapeHtml(label)}</text>` +
      `<rect class="bar" x="${left}" y="${top + 2}" width="${Math.max(w, 1).toFixed(1)}" height="${row - 6}" fill="#4c78a8"/>` +
      `<text x="${(left + w + 4).toFixed(1)}" y="${top + 13}">${figure(v)} ${escapeHtml(unit)}</text>`
    );
  });
  return svg(title, rows.join(""), height);
}

function svg(title: string, body: string, height = HEIGHT): string {
  return (
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeHtml(title)}" ` +
    `viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" font-size="10" ` +
    `font-family="sans-serif">${body}</svg>`
  );
}

function shorten(label: string): string {
  return label.length > 14 ? `${label.slice(0, 13)}…` : label;
}
