"""Timing charts drawn locally as SVG (no chart service: nothing leaves the machine).

Two panels in one file: a stacked horizontal bar of the phases of each of the newest runs,
and the trend of each phase's duration over time (one line per phase, one point per run).
Every text is XML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..queries.timing import ChartRun

__all__ = ["timing_svg"]

COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
WIDTH = 900
LABEL = 220
ROW = 18


def _fmt(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def timing_svg(runs: Sequence[ChartRun], phases: Sequence[str], *, newest: int = 30, title: str = "Where the time goes") -> str:
    """The SVG document. ``phases``: the phases to stack (in order) and to trend."""
    bars = list(runs)[-newest:][::-1]  # newest on top
    colors = {p: COLORS[i % len(COLORS)] for i, p in enumerate(phases)}
    plot = WIDTH - LABEL - 20
    longest = max((sum(v for p in phases if (v := r.phases.get(p)) is not None) for r in bars), default=0.0) or 1.0
    out: list[str] = []
    y = 30
    out.append(f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}: phases of the newest '
               f"{len(bars)} run(s)</text>")
    legend_x = 10
    for p in phases:
        out.append(f'<rect x="{legend_x}" y="{y}" width="10" height="10" fill="{colors[p]}"/>'
                   f'<text x="{legend_x + 14}" y="{y + 9}" font-size="11">{escape(p)}</text>')
        legend_x += 20 + 7 * len(p)
    y += 20
    for run in bars:
        out.append(f'<text x="{LABEL - 6}" y="{y + 12}" font-size="11" text-anchor="end">{escape(run.label)}</text>')
        x = float(LABEL)
        for p in phases:
            value = run.phases.get(p)
            if value is None or value <= 0:
                continue
            w = value / longest * plot
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 4}" fill="{colors[p]}">'
                       f"<title>{escape(run.label)} {escape(p)}: {_fmt(value)}</title></rect>")
            x += w
        y += ROW
    out.append(f'<text x="{LABEL}" y="{y + 12}" font-size="10">0</text>'
               f'<text x="{WIDTH - 20}" y="{y + 12}" font-size="10" text-anchor="end">{_fmt(longest)}</text>')
    y += 40
    # trends: duration of each phase per run over the runs' start times
    dated = [r for r in runs if r.started is not None]
    starts = [r.started for r in dated if r.started is not None]
    height = 200
    out.append(f'<text x="10" y="{y}" font-size="14" font-weight="bold">Phase durations over time ({len(dated)} run(s))</text>')
    y += 10
    top = max((v for r in dated for p in phases if (v := r.phases.get(p)) is not None), default=0.0) or 1.0
    if dated:
        t0, t1 = min(starts), max(starts)
        span = (t1 - t0).total_seconds() or 1.0
        out.append(f'<rect x="{LABEL}" y="{y}" width="{plot}" height="{height}" fill="none" stroke="#ccc"/>')
        for p in phases:
            points = [((r.started - t0).total_seconds() / span * plot + LABEL, y + height - v / top * height)
                      for r in dated if r.started is not None and (v := r.phases.get(p)) is not None]
            if points:
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
                out.append(f'<polyline points="{path}" fill="none" stroke="{colors[p]}" stroke-width="1.5">'
                           f"<title>{escape(p)}</title></polyline>")
        out.append(f'<text x="{LABEL - 6}" y="{y + 10}" font-size="10" text-anchor="end">{_fmt(top)}</text>'
                   f'<text x="{LABEL - 6}" y="{y + height}" font-size="10" text-anchor="end">0</text>'
                   f'<text x="{LABEL}" y="{y + height + 14}" font-size="10">{escape(t0.strftime("%Y-%m-%d %H:%M"))}</text>'
                   f'<text x="{WIDTH - 20}" y="{y + height + 14}" font-size="10" text-anchor="end">'
                   f'{escape(t1.strftime("%Y-%m-%d %H:%M"))}</text>')
        y += height + 30
    body = "\n".join(out)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y + 10}" '
            f'viewBox="0 0 {WIDTH} {y + 10}" font-family="sans-serif">\n{body}\n</svg>\n')
