"""Server-rendered SVG charts for the provider dashboard: no JavaScript, no chart library.

Each chart is an inline <svg role="img"> with a <title> and <desc> that say what it shows, and
the page keeps the numbers in a table beside it (charts help sighted readers compare; the table
is what a screen reader and a copy-paste get). Colours come from CSS classes (`chart-*` in
catalogue.css) so they follow the page's theme and contrast rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 220
LEFT = 48  # room for the y-axis numbers
BOTTOM = 28  # room for the x-axis labels
TOP = 10
RIGHT = 8


@dataclass(frozen=True)
class Series:
    """One stacked layer: its name (for the legend and tooltips), CSS class and one value per bar."""

    name: str
    css: str
    values: Sequence[float]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (an axis maximum)."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value:  # values below 1
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    number: object = str,
    top: float | None = None,
) -> Markup:
    """Stacked bars, one per label (e.g. per run), one layer per series.

    `number` formats the y-axis ticks and tooltips in the reader's locale (a callable); `top`
    fixes the axis maximum (e.g. 100 for percentages), else it is the next round number.
    """
    fmt = number if callable(number) else str
    count = len(labels)
    if any(len(s.values) != count for s in series):
        raise ValueError("every series needs one value per label")
    totals = [sum(s.values[i] for s in series) for i in range(count)]
    top = top or nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(count, 1)
    bar = min(48.0, slot * 0.7)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{{id}}-t {{id}}-d"'
        f' preserveAspectRatio="xMinYMin meet">',
        f'<title id="{{id}}-t">{escape(title)}</title><desc id="{{id}}-d">{escape(description)}</desc>',
    ]
    for tick in (0, top / 2, top):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="chart-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(_plain(tick)))}</text>"
        )
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar) / 2
        y = TOP + plot_h
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect class="{escape(s.css)}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                f"<title>{escape(label)}: {escape(s.name)} {escape(fmt(_plain(value)))}</title></rect>"
            )
        parts.append(
            f'<text class="chart-label" x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts).replace("{id}", _chart_id(title)))


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


def _chart_id(title: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())[:40]


def legend(series: Sequence[Series]) -> Markup:
    """The legend as an HTML list (readable text, not SVG text)."""
    items = "".join(
        f'<li><span class="chart-key {escape(s.css)}" aria-hidden="true"></span>{escape(s.name)}</li>'
        for s in series
    )
    return Markup(f'<ul class="chart-legend">{items}</ul>')
