"""`bnguard report`: one self-contained HTML page from a monitoring log.

Plots are matplotlib SVG embedded inline (no network, no JavaScript needed to see them). The page
reads top-down: a summary sentence, the alerts on a timeline, a per-layer table, then per-layer
curves of the statistics with the alerts marked.
"""
from __future__ import annotations

import html
import io
import re
from collections import defaultdict
from typing import Optional

from bnguard.report.log import RunLog

KIND_COLORS = {
    "frozen": "#d62728",
    "eval-mode": "#ff7f0e",
    "contaminated": "#9467bd",
    "nonfinite": "#8c564b",
    "rank-divergence": "#e377c2",
}
KIND_ORDER = ["nonfinite", "frozen", "eval-mode", "contaminated", "rank-divergence"]
KIND_PHRASE = {
    "frozen": "frozen",
    "eval-mode": "in eval mode during training",
    "contaminated": "contaminated by evaluation data",
    "nonfinite": "with NaN/Inf statistics",
    "rank-divergence": "diverging across ranks",
}

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa; --ok:#1a7f37; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 10px; }
.meta { color: var(--muted); font-size: 13px; }
.summary { border: 1px solid var(--line); border-left: 6px solid var(--ok); background: var(--soft);
           padding: 14px 18px; border-radius: 6px; margin: 18px 0; font-size: 17px; }
.summary.bad { border-left-color: #d62728; }
.summary ul { margin: 6px 0 0; padding-left: 20px; font-size: 15px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); position: sticky; top: 0; }
td.num { font-variant-numeric: tabular-nums; text-align: right; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
         margin: 1px 4px 1px 0; white-space: nowrap; }
.badge.ok { background: var(--ok); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card h3 { font-size: 14px; margin: 0 0 4px; word-break: break-all; }
.card svg, .timeline svg { width: 100%; height: auto; display: block; }
.alerts li { margin: 2px 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
"""


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    text = text[text.find("<svg"):]  # drop the XML prologue and DOCTYPE: inline SVG needs neither
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF boilerplate and a timestamp


def _first_alerts(log: RunLog) -> dict[str, dict[str, int]]:
    """layer -> kind -> first step."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for a in log.alerts:
        out[a.get("layer", "?")].setdefault(a.get("kind", "?"), a.get("step", 0))
    return out


def summary_lines(log: RunLog) -> list[str]:
    first = _first_alerts(log)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for layer, kinds in first.items():
        for kind, step in kinds.items():
            by_kind[kind].append(step)
    lines = []
    for kind in KIND_ORDER + sorted(set(by_kind) - set(KIND_ORDER)):
        steps = by_kind.get(kind)
        if steps:
            n = len(steps)
            lines.append(f"{n} layer{'s' if n != 1 else ''} {KIND_PHRASE.get(kind, kind)} since step {min(steps)}")
    return lines


def render(log: RunLog, title: Optional[str] = None) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "bnguard", "font.size": 9})
    layers = log.layers()
    first = _first_alerts(log)
    lines = summary_lines(log)
    steps = log.last_step
    title = title or f"bnguard report — {log.meta.get('model') or 'model'}"

    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>"]
    parts.append(f"<h1>{html.escape(title)}</h1>")
    parts.append(f"<div class='meta'>{html.escape(str(log.meta.get('framework', '')))} · {len(layers)} BN layers · "
                 f"{steps} steps · recorded every {html.escape(str(log.meta.get('every', '?')))} steps · "
                 f"{len(log.alerts)} alerts{' · ' + str(log.skipped_lines) + ' unreadable log line(s) skipped' if log.skipped_lines else ''}</div>")
    if lines:
        parts.append("<div class='summary bad' id='summary'><strong>" + html.escape(lines[0]) + "</strong>")
        if len(lines) > 1:
            parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines[1:]) + "</ul>")
        parts.append("</div>")
    else:
        parts.append(f"<div class='summary' id='summary'><strong>All {len(layers)} BN layers healthy over {steps} steps"
                     "</strong>: statistics moved while training and never during evaluation.</div>")

    # Timeline of alerts
    parts.append("<h2>Alerts on the timeline</h2>")
    if log.alerts:
        fig, ax = plt.subplots(figsize=(11, 0.6 + 0.28 * min(len(first), 30)))
        ylabels = sorted(first, key=lambda l: min(first[l].values()))[:30]
        ypos = {l: i for i, l in enumerate(ylabels)}
        for a in log.alerts:
            l = a.get("layer")
            if l in ypos:
                ax.scatter(a.get("step", 0), ypos[l], color=KIND_COLORS.get(a.get("kind"), "#333"), s=36, zorder=3,
                           label=a.get("kind"))
        ax.set_yticks(range(len(ylabels)))
        ax.set_yticklabels(ylabels)
        ax.set_xlim(0, max(steps, 1) * 1.02)
        ax.set_xlabel("optimizer step")
        ax.grid(axis="x", alpha=0.3)
        ax.invert_yaxis()
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        parts.append("<div class='timeline' id='timeline'>" + _svg(fig) + "</div>")
        parts.append("<ul class='alerts'>")
        for a in log.alerts[:200]:
            color = KIND_COLORS.get(a.get("kind"), "#333")
            parts.append(f"<li><span class='badge' style='background:{color}'>{html.escape(str(a.get('kind')))}</span>"
                         f"step {a.get('step')}: {html.escape(str(a.get('message', '')))}</li>")
        if len(log.alerts) > 200:
            parts.append(f"<li>… and {len(log.alerts) - 200} more</li>")
        parts.append("</ul>")
    else:
        parts.append("<p class='meta' id='timeline'>No alerts.</p>")

    # Per-layer table
    last: dict[str, dict] = {}
    for r in log.stats:
        last[r["layer"]] = r
    parts.append("<h2>Layers</h2><table id='layers'><thead><tr><th>layer</th><th>status</th><th>first alert</th>"
                 "<th>|mean|</th><th>mean var</th><th>updates</th><th>mode</th></tr></thead><tbody>")
    for l in layers:
        r = last.get(l, {})
        kinds = first.get(l, {})
        badges = "".join(f"<span class='badge' style='background:{KIND_COLORS.get(k, '#333')}'>{html.escape(k)}</span>"
                         for k in sorted(kinds, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)) \
            or "<span class='badge ok'>ok</span>"
        fa = min(kinds.values()) if kinds else ""
        parts.append(f"<tr><td>{html.escape(l)}</td><td>{badges}</td><td class='num'>{fa}</td>"
                     f"<td class='num'>{_fmt(r.get('mean_norm'))}</td><td class='num'>{_fmt(r.get('var_mean'))}</td>"
                     f"<td class='num'>{'' if r.get('updates') is None else r.get('updates')}</td>"
                     f"<td>{'train' if r.get('training') else 'eval' if r else ''}</td></tr>")
    parts.append("</tbody></table>")

    # Per-layer curves
    parts.append("<h2>Statistics over training</h2><div class='grid' id='curves'>")
    alerts_by_layer: dict[str, list[dict]] = defaultdict(list)
    for a in log.alerts:
        alerts_by_layer[a.get("layer")].append(a)
    for l in layers:
        xs, mean_norm = log.series(l, "mean_norm")
        _, var_mean = log.series(l, "var_mean")
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(4.6, 2.8), sharex=True)
        a1.plot(xs, mean_norm, color="#1f77b4", lw=1.5, marker="." if len(xs) < 40 else None)
        a1.set_ylabel("‖mean‖")
        a2.plot(xs, var_mean, color="#2ca02c", lw=1.5, marker="." if len(xs) < 40 else None)
        a2.set_ylabel("mean var")
        a2.set_xlabel("step")
        for ax in (a1, a2):
            ax.grid(alpha=0.3)
            for a in alerts_by_layer.get(l, ()):
                ax.axvline(a.get("step", 0), color=KIND_COLORS.get(a.get("kind"), "#333"), ls="--", lw=1)
        fig.tight_layout()
        parts.append(f"<div class='card'><h3>{html.escape(l)}</h3>{_svg(fig)}</div>")
    parts.append("</div>")
    parts.append(f"<footer>Generated by bnguard from {html.escape(log.path)}.</footer></main></body></html>")
    return "".join(parts)


def _fmt(v) -> str:
    if v is None:
        return ""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return html.escape(str(v))
    return f"{f:.4g}"


