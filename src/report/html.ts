/**
 * The run report as one self-contained HTML page (`job.report_html`): the JSON report's facts and
 * figures, with inline SVG charts (report/svg.ts). No script, no style sheet, font or image fetched: it
 * reads offline, and attaches to an email or a chat message (tens of KB).
 */
import type { RunReport } from "./run-report.js";
import type {
  ChallengerReport,
  DataProfile,
  Distribution,
  DriftReport,
  OutputComparison,
} from "./sections.js";
import { barChart, escapeHtml as e, figure, hbarChart } from "./svg.js";

const REFERENCE = "#9ecae9";
const CURRENT = "#f58518";
const CHAMPION = "#4c78a8";
const CHALLENGER = "#e45756";

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#222}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.bad{color:#b00020;font-weight:600}
.ok{color:#1b7f3b;font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}
figcaption{font-size:12px;color:#555}`;

/** What every HTML run report holds in its first bytes: a later run may replace a file that has it. */
export const HTML_REPORT_MARK = '<meta name="generator" content="mlbatch run report">';

/**
 * The HTML page of a run report.
 *
 * @example
 * ```ts
 * await writeTextAtomically("report.html", htmlReport(report), "the HTML run report");
 * ```
 */
export function htmlReport(report: RunReport): string {
  const title = `${report.job}: ${report.status}`;
  const sections = [
    facts(report),
    rows(report),
    timings(report),
    problems(report),
    report.drift ? drift(report.drift) : "",
    report.profile ? profile(report.profile) : "",
    predictions(report),
    report.challenger ? challenger(report.challenger) : "",
  ];
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">${HTML_REPORT_MARK}` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${e(title)}</title><style>${STYLE}</style></head><body>` +
    `<h1>${e(title)}</h1>${sections.join("\n")}</body></html>\n`
  );
}

function table(head: readonly string[], body: readonly (readonly string[])[], id?: string): string {
  const th = head.map((h) => `<th>${e(h)}</th>`).join("");
  const tr = body.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("");
  return `<table${id === undefined ? "" : ` id="${e(id)}"`}><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

function facts(r: RunReport): string {
  const model = r.model;
  const status = `<span class="${r.status === "success" ? "ok" : "bad"}">${e(r.status)}</span>`;
  const list: [string, string][] = [
    ["Status", status],
    [
      "Model",
      model === null ? "–" : e(`${model.uri}${model.version === null ? "" : ` (version ${model.version})`}`),
    ],
    ["Model run", e(model?.run_id ?? "–")],
    ["Inputs", e(r.inputs.path ?? "–")],
    ["Outputs", e(r.outputs.path ?? "–")],
    ["Started", e(r.started_at)],
    ["Finished", e(r.finished_at)],
    ["Duration", `${figure(r.duration_s)} s`],
    ["Peak memory", `${figure(r.peak_memory_mb)} MB`],
    ["Config hash", e(r.config_hash ?? "–")],
    ["mlbatch", e(r.mlbatch_version)],
  ];
  const error =
    r.error === null
      ? ""
      : `<p class="bad" id="error">[${e(r.error.code)}] step ${e(r.error.step ?? "unknown")}: ${e(r.error.message)}</p>`;
  const warnings =
    r.warnings.length === 0
      ? ""
      : `<ul id="warnings">${r.warnings.map((w) => `<li>${e(w)}</li>`).join("")}</ul>`;
  return `<h2>Job</h2>${table(["Fact", "Value"], list)}${error}${warnings}`;
}

function rows(r: RunReport): string {
  const { read, written, rejected } = r.rows;
  const cells = [[figure(read), figure(written), figure(rejected)]];
  return `<h2>Rows</h2>${table(["read", "written", "rejected"], cells, "rows")}`;
}

function timings(r: RunReport): string {
  const steps = Object.entries(r.durations).filter(([step]) => step !== "total");
  if (steps.length === 0) return "";
  const chart = hbarChart(
    "seconds per step",
    steps.map(([s]) => s),
    steps.map(([, v]) => v),
    "s",
  );
  return `<h2>Step timings</h2><figure>${chart}<figcaption>Total ${figure(r.durations.total)} s (steps overlap: validation while the model loads, drift while it predicts)</figcaption></figure>`;
}

function problems(r: RunReport): string {
  const v = r.validation;
  if (v === null || v === undefined) return "";
  const head = `<p>${v.valid ? '<span class="ok">valid</span>' : '<span class="bad">invalid rows</span>'}: ${figure(v.rows.invalid)} of ${figure(v.rows.total)} rows invalid</p>`;
  if (v.problems.length === 0) return `<h2>Validation</h2>${head}`;
  const body = v.problems.map((p) => [e(p.column), e(p.check), e(p.origin), figure(p.count), e(p.message)]);
  return `<h2>Validation</h2>${head}${table(["column", "check", "from", "rows", "problem"], body, "problems")}`;
}

function drift(d: DriftReport): string {
  const names = Object.keys(d.columns).sort((a, b) => d.columns[b]!.psi - d.columns[a]!.psi);
  const body = names.map((name) => {
    const c = d.columns[name]!;
    const verdict = c.drifted ? '<span class="bad">drifted</span>' : e(c.level);
    return [e(name), figure(c.psi), figure(c.js_distance), verdict];
  });
  const charts = names.map((name) => {
    const c = d.columns[name]!;
    const chart = barChart(`${name}: share of rows per bin`, c.bins, [
      { name: "reference", values: c.reference_shares, color: REFERENCE },
      { name: "inputs", values: c.current_shares, color: CURRENT },
    ]);
    return `<figure>${chart}<figcaption>${e(name)}: PSI ${figure(c.psi)}, JS distance ${figure(c.js_distance)}</figcaption></figure>`;
  });
  const intro = `<p>Against ${e(d.reference)}; PSI thresholds ${figure(d.thresholds.moderate)} (moderate) and ${figure(d.thresholds.significant)} (drifted). Drifted: ${d.drifted.length === 0 ? "none" : d.drifted.map(e).join(", ")}.</p>`;
  return `<h2>Drift</h2>${intro}${table(["column", "PSI", "JS distance", "verdict"], body, "drift")}<div class="charts">${charts.join("")}</div>`;
}

function profile(p: DataProfile): string {
  const body = Object.entries(p.columns).map(([name, c]) =>
    c.kind === "numeric"
      ? [
          e(name),
          c.kind,
          figure(c.count),
          figure(c.nulls),
          figure(c.min),
          figure(c.max),
          figure(c.mean),
          figure(c.quantiles["0.5"]),
        ]
      : [e(name), c.kind, figure(c.count), figure(c.nulls), "–", "–", "–", e(c.top[0]?.value ?? "–")],
  );
  const head = ["column", "kind", "count", "nulls", "min", "max", "mean", "median / top"];
  return `<h2>Input profile</h2><p>${figure(p.rows)} rows of ${e(p.source)}</p>${table(head, body, "profile")}`;
}

function distributionChart(title: string, series: readonly [string, Distribution, string][]): string {
  const first = series[0]?.[1];
  if (first === undefined || first.bins.length === 0) return "";
  const chart = barChart(
    title,
    first.bins,
    series.map(([name, d, color]) => ({ name, values: d.counts, color })),
  );
  const sampled = series.some(([, d]) => d.sampled) ? " (from a uniform sample of 100,000 rows)" : "";
  return `<figure>${chart}<figcaption>${e(title)}${sampled}</figcaption></figure>`;
}

function predictions(r: RunReport): string {
  if (r.predictions === null || r.predictions === undefined) return "";
  const charts = Object.entries(r.predictions).map(([name, d]) =>
    distributionChart(`${name}: rows per bin`, [[name, d, CHAMPION]]),
  );
  return `<h2>Predictions</h2><div class="charts">${charts.join("")}</div>`;
}

function challenger(c: ChallengerReport): string {
  const parts = Object.entries(c.outputs).map(([name, o]) => comparison(name, o));
  const who = `${c.uri}${c.version === null ? "" : ` (version ${c.version})`}`;
  return `<h2>Champion against Challenger</h2><p>Challenger: ${e(who)}</p>${parts.join("")}`;
}

function comparison(name: string, o: OutputComparison): string {
  const figures =
    o.kind === "regression"
      ? table(
          ["output", "rows", "mean abs diff", "max abs diff", "correlation"],
          [[e(name), figure(o.rows), figure(o.mean_abs_diff), figure(o.max_abs_diff), figure(o.correlation)]],
          `challenger-${name}`,
        )
      : table(
          ["output", "rows", "agreement"],
          [[e(name), figure(o.rows), figure(o.agreement)]],
          `challenger-${name}`,
        ) +
        table(
          ["champion", "challenger", "rows"],
          (o.confusion ?? []).map((p) => [e(p.champion), e(p.challenger), figure(p.count)]),
        );
  const chart = distributionChart(`${name}: champion and challenger`, [
    ["champion", o.champion_distribution, CHAMPION],
    ["challenger", o.challenger_distribution, CHALLENGER],
  ]);
  const ids = o.top_differences.map((d) => [
    figure(d.row),
    e(
      Object.entries(d.ids)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ") || "–",
    ),
    typeof d.champion === "number" ? figure(d.champion) : e(d.champion),
    typeof d.challenger === "number" ? figure(d.challenger) : e(d.challenger),
  ]);
  const differ = o.kind === "regression" ? "Rows that differ most" : "Rows that disagree";
  return `<h3>${e(name)}</h3>${figures}${chart}<p>${differ}</p>${table(["row", "ids", "champion", "challenger"], ids)}`;
}
