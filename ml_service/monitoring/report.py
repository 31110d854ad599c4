"""The drift report: one self-contained HTML file (plots as inline SVG) and a JSON summary.

The HTML loads nothing from the network: the plots are drawn by matplotlib's
SVG backend into the page itself, with no script at all.
"""

from __future__ import annotations

import html
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ml_service.monitoring.drift import ColumnDrift, DriftResult, Verdict, summary

HTML_NAME = "drift_report.html"
JSON_NAME = "drift_summary.json"

_VERDICT_WORDS = {
    Verdict.NO_DRIFT: "no drift",
    Verdict.DRIFT: "DRIFT",
    Verdict.INSUFFICIENT_DATA: "too little data, no verdict",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.verdict { font-size: 1.2rem; font-weight: bold; padding: 0.5rem 1rem; display: inline-block; }
.no_drift { background: #e3f4e1; } .drift { background: #fbe0dd; }
.insufficient_data { background: #fdf3d0; }
tr.drifted td { background: #fbe0dd; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figcaption { font-size: 0.9rem; text-align: center; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dt { font-weight: bold; }
"""


@dataclass(frozen=True)
class ReportContext:
    """What was compared: the model version, its training data, the window of scored data."""

    model: str
    model_version: str
    reference: str  # the dataset version, NAME:VERSION
    since: str | None
    until: str | None
    created_at: str


def column_plot_svg(column: ColumnDrift) -> str:
    """Reference vs current shares per bin of one column, as an SVG element."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 2.8), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    count = len(column.reference_shares)
    positions = list(range(count))
    width = 0.4
    axes.bar([p - width / 2 for p in positions], column.reference_shares, width,
             label="reference (training)", color="#4c78a8")  # fmt: skip
    axes.bar([p + width / 2 for p in positions], column.current_shares, width,
             label="current (scored)", color="#f58518")  # fmt: skip
    edges = column.bin_edges
    axes.set_xticks(positions)
    axes.set_xticklabels([f"≤{edges[i + 1]:.3g}" for i in positions], rotation=60, fontsize=7)
    axes.set_ylabel("share of rows", fontsize=8)
    axes.tick_params(axis="y", labelsize=7)
    axes.set_title(
        f"{column.column}: PSI {column.psi:.3f}, KS p {column.ks_p_value:.2g}", fontsize=9
    )
    axes.legend(fontsize=7)
    buffer = io.StringIO()
    # Text stays text (not glyph paths): a small file, searchable in the browser.
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def render_html(result: DriftResult, context: ReportContext) -> str:
    """The whole report as one HTML document."""
    import matplotlib

    escape = html.escape
    window = f"{context.since or 'the first day collected'} to {context.until or 'today'}"
    verdict = result.verdict
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Drift report: {escape(context.model)} version "
        f"{escape(context.model_version)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Drift report: {escape(context.model)} version {escape(context.model_version)}</h1>",
        f'<p class="verdict {verdict.value}">{escape(_VERDICT_WORDS[verdict])}</p>',
        f"<p>{escape(result.message)}</p>",
        "<dl>",
        f"<dt>Reference</dt><dd>dataset {escape(context.reference)} (the model's training "
        f"data), {result.reference_rows} rows</dd>",
        f"<dt>Current</dt><dd>scored by the service, {escape(window)}, "
        f"{result.current_rows} rows</dd>",
        f"<dt>Rule</dt><dd>a column drifts when PSI ≥ {result.checks.psi_threshold:g} and the "
        f"KS test's p-value &lt; {result.checks.ks_p_value:g}; PSI over "
        f"{result.checks.bins} bins cut at the reference's quantiles; a verdict needs at "
        f"least {result.checks.min_rows} rows</dd>",
        f"<dt>Created</dt><dd>{escape(context.created_at)}</dd>",
        "</dl>",
    ]
    if result.columns:
        parts += [
            "<h2>Statistics</h2>",
            "<table><thead><tr><th>column</th><th>PSI</th><th>KS statistic</th>"
            "<th>KS p-value</th><th>reference mean</th><th>current mean</th>"
            "<th>verdict</th></tr></thead><tbody>",
        ]
        for column in result.columns:
            css = ' class="drifted"' if column.drifted else ""
            parts.append(
                f"<tr{css}><td>{escape(column.column)}</td><td>{column.psi:.4f}</td>"
                f"<td>{column.ks_statistic:.4f}</td><td>{column.ks_p_value:.3g}</td>"
                f"<td>{column.reference_mean:.4g}</td><td>{column.current_mean:.4g}</td>"
                f"<td>{'drift' if column.drifted else 'ok'}</td></tr>"
            )
        parts += ["</tbody></table>", "<h2>Reference vs current, per column</h2>"]
        parts.append('<div class="plots">')
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "drift"}):
            for column in result.columns:
                parts.append(
                    f"<figure>{column_plot_svg(column)}<figcaption>"
                    f"{escape(column.column)}: {'drift' if column.drifted else 'ok'}"
                    "</figcaption></figure>"
                )
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result: DriftResult, context: ReportContext, out_dir: Path) -> tuple[Path, Path]:
    """Write the HTML report and the JSON summary into `out_dir`; each appears whole or not at all.

    Returns:
        The paths of the HTML report and of the JSON summary.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {**asdict(context), **summary(result)}
    html_path, json_path = out_dir / HTML_NAME, out_dir / JSON_NAME
    _write_atomically(json_path, json.dumps(document, indent=2) + "\n")
    _write_atomically(html_path, render_html(result, context))
    return html_path, json_path


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
