"""Server-rendered SVG charts: no script, readable without colour, described for screen readers.

Every chart is an `<svg role="img">` with a `<title>` and a `<desc>` (what it shows and its main
numbers); the page puts the same data in a table beside it. All text that goes into the SVG is
escaped here, so the result is safe to inline in a page.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 600, 250
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 28, 46
PALETTE = ("#1d4ed8", "#15803d", "#b45309", "#7c3aed")
DASHES = ("", "6 4", "2 3", "10 3 2 3")
_ids = count(1)


@dataclass
class Series:
    name: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    """A round top for an axis with four intervals: 4 x (1, 2 or 5 x a power of ten).

    Counts below 4 still get whole-number ticks (0, 1, 2, 3, 4).
    """
    step_wanted = max(value, 1) / 4
    power = 10 ** math.floor(math.log10(step_wanted))
    for step in (1, 2, 5, 10):
        if step_wanted <= step * power:
            return max(4, 4 * step * power)
    return 40 * power  # pragma: no cover


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _open(title: str, desc: str, height: int = HEIGHT) -> tuple[list[str], str]:
    uid = f"chart{next(_ids)}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="{uid}-t {uid}-d" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(desc)}</desc>',
    ]
    return parts, uid


def _close(parts: list[str]) -> SafeString:
    parts.append("</svg>")
    # Every piece of text above went through escape()/quoteattr().
    return mark_safe("".join(parts))  # noqa: S308


def _legend(parts: list[str], series: Sequence[Series], kind: str) -> None:
    x = LEFT
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        if kind == "line":
            dash = f' stroke-dasharray="{DASHES[i % len(DASHES)]}"' if DASHES[i % 4] else ""
            parts.append(
                f'<line x1="{x}" y1="12" x2="{x + 18}" y2="12" stroke="{colour}" '
                f'stroke-width="3"{dash}/>'
            )
        else:
            parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 24}" y="16" class="legend">{escape(s.name)}</text>')
        x += 40 + 7 * len(s.name)


def _y_axis(parts: list[str], top: float, plot_h: float, y_max: float, suffix: str) -> None:
    for i in range(5):
        value = y_max * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{escape(_fmt(value) + suffix)}</text>"
        )


def _x_labels(parts: list[str], labels: Sequence[str], centres: Sequence[float]) -> None:
    step = max(1, math.ceil(len(labels) / 12))
    base = HEIGHT - BOTTOM
    for i, (label, x) in enumerate(zip(labels, centres, strict=True)):
        if i % step:
            continue
        parts.append(
            f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" class="tick">'
            f"{escape(label)}</text>"
        )


def bar_chart(
    title: str, desc: str, labels: Sequence[str], series: Sequence[Series], suffix: str = ""
) -> SafeString:
    """Grouped vertical bars: one group per label, one bar per series."""
    parts, _ = _open(title, desc)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for s in series for v in s.values if v is not None]
    y_max = _nice_max(max(values, default=0))
    _y_axis(parts, TOP, plot_h, y_max, suffix)
    slot = plot_w / max(1, len(labels))
    bar = max(1.0, min(28.0, slot * 0.8 / max(1, len(series))))
    centres = []
    for i, label in enumerate(labels):
        centre = LEFT + slot * (i + 0.5)
        centres.append(centre)
        first = centre - bar * len(series) / 2
        for j, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / y_max
            parts.append(
                f'<rect x="{first + j * bar:.1f}" y="{TOP + plot_h - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                f"<title>{escape(f'{label}: {s.name} {_fmt(value)}{suffix}')}</title></rect>"
            )
    _x_labels(parts, labels, centres)
    _legend(parts, series, "bar")
    return _close(parts)


def line_chart(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    suffix: str = "",
    y_max: float | None = None,
) -> SafeString:
    """Lines over the labels (days); a None value breaks the line, a lone point is a dot."""
    parts, _ = _open(title, desc)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for s in series for v in s.values if v is not None]
    top_value = y_max or _nice_max(max(values, default=0))
    _y_axis(parts, TOP, plot_h, top_value, suffix)
    n = len(labels)
    pad = 20  # room for the first and last day's label
    step = (plot_w - 2 * pad) / max(1, n - 1) if n > 1 else 0
    xs = [LEFT + pad + (step * i if n > 1 else plot_w / 2 - pad) for i in range(n)]
    for j, s in enumerate(series):
        colour = PALETTE[j % len(PALETTE)]
        dash = DASHES[j % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        run: list[str] = []
        for i, value in enumerate([*s.values, None]):
            if value is not None:
                y = TOP + plot_h - plot_h * value / top_value
                run.append(f"{xs[i]:.1f},{y:.1f}")
                parts.append(
                    f'<circle cx="{xs[i]:.1f}" cy="{y:.1f}" r="{3 if n <= 31 else 1.5}" '
                    f'fill="{colour}"><title>'
                    f"{escape(f'{labels[i]}: {s.name} {_fmt(value)}{suffix}')}</title></circle>"
                )
                continue
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{dash_attr}/>'
                )
            run = []
    _x_labels(parts, labels, xs)
    _legend(parts, series, "line")
    return _close(parts)


def hbar_chart(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    suffix: str = "",
    x_max: float | None = None,
) -> SafeString:
    """Horizontal grouped bars: one row per label (e.g. per department)."""
    row_h = 14 * max(1, len(series)) + 10
    height = max(140, TOP + 20 + row_h * max(1, len(labels)) + 10)
    parts, _ = _open(title, desc, height)
    label_w = 140
    plot_w = WIDTH - label_w - RIGHT - 40
    values = [v for s in series for v in s.values if v is not None]
    top_value = x_max or _nice_max(max(values, default=0))
    for i in range(5):
        x = label_w + plot_w * i / 4
        parts.append(f'<line x1="{x:.1f}" y1="{TOP + 10}" x2="{x:.1f}" y2="{height - 10}" '
                     f'class="grid"/>')  # fmt: skip
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + 6}" text-anchor="middle" class="tick">'
            f"{escape(_fmt(top_value * i / 4) + suffix)}</text>"
        )
    for i, label in enumerate(labels):
        y0 = TOP + 20 + row_h * i
        short = label if len(label) <= 20 else label[:19] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + row_h / 2 + 2:.1f}" text-anchor="end" '
            f'class="tick">{escape(short)}</text>'
        )
        for j, s in enumerate(series):
            value = s.values[i]
            y = y0 + 4 + 14 * j
            if value is None:
                parts.append(
                    f'<text x="{label_w + 4}" y="{y + 10}" class="tick muted">'
                    f"{escape(s.name)}: no data</text>"
                )
                continue
            w = plot_w * value / top_value
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="12" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>'
                f"{escape(f'{label}: {s.name} {_fmt(value)}{suffix}')}</title></rect>"
            )
            parts.append(
                f'<text x="{label_w + w + 4:.1f}" y="{y + 10}" class="tick">'
                f"{escape(_fmt(value) + suffix)}</text>"
            )
    _legend(parts, series, "bar")
    return _close(parts)
