"""Charts as inline SVG: Vega-Lite specifications drawn by vl-convert, offline.

vl-convert (maintained by the Vega project) embeds Vega and Vega-Lite and renders a specification to
SVG in-process: no browser, no CDN, no network (``allowed_base_urls=[]`` refuses any data URL). The
SVG is written into the page, so a chart prints, goes into an e-mail and opens from a folder.

Specifications are built here as plain data rather than through Altair's classes: Altair's
``to_dict`` cost about 40 ms a chart, as much as drawing it, and a site draws one chart per statement.
Money is exact ``Decimal`` everywhere else; a chart turns it into a float only to draw it, and every
figure a chart shows is also printed exactly in the page's tables.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .i18n import ChartLocale, Locale
from .ladders import Ladder

__all__ = ["Bar", "ChartSpec", "bar_chart", "lines_chart", "render_svgs", "tier_chart"]

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # names the dialect; never fetched
FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, Source Han Sans SC, PingFang SC, Microsoft YaHei, Arial, sans-serif"
ACCENT, MUTED, MARKER = "#2f6fb2", "#c9d6e3", "#d1495b"
_CONFIG: dict[str, Any] = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "grid": True, "gridColor": "#eceff3"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11},
}


@dataclass(frozen=True)
class ChartSpec:
    """A chart to draw: its Vega-Lite specification, the marks it draws and how a reader names it."""

    kind: str
    spec: dict[str, Any]
    marks: int  # data marks drawn (bars, bands, lines, rules): what a browser test counts
    title: str

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.spec, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    highlight: bool = False


def _drawn(value: Decimal) -> float:
    return float(value)  # float ok: drawing only; the exact figure is in the page's table


def _base(loc: Locale, width: int, height: int) -> dict[str, Any]:
    return {"$schema": SCHEMA, "width": width, "height": height, "config": _CONFIG, "background": "white"}


def bar_chart(
    kind: str, bars: Sequence[Bar], loc: Locale, *, title: str, axis: str, fmt: str = ",.0f", width: int = 420
) -> ChartSpec | None:
    """Horizontal bars, one per row, in the order given; highlighted rows in the accent colour."""
    if not bars:
        return None
    plain = not any(b.highlight for b in bars)  # nothing singled out: every bar in the accent colour
    values = [
        {"order": i, "label": b.label, "value": _drawn(b.value), "mark": "a" if b.highlight or plain else "b"}
        for i, b in enumerate(bars)
    ]
    spec = _base(loc, width, max(40, 22 * len(bars)))
    spec.update(
        {
            "data": {"values": values},
            "mark": {"type": "bar", "cornerRadiusEnd": 2},
            "encoding": {
                "y": {"field": "label", "type": "nominal", "sort": {"field": "order"}, "title": None},
                "x": {"field": "value", "type": "quantitative", "title": axis, "axis": {"format": fmt}},
                "color": {
                    "field": "mark",
                    "type": "nominal",
                    "scale": {"domain": ["a", "b"], "range": [ACCENT, MUTED]},
                    "legend": None,
                },
            },
        }
    )
    return ChartSpec(kind, spec, len(bars), title)


def column_chart(
    kind: str, bars: Sequence[Bar], loc: Locale, *, title: str, axis: str, fmt: str = ",.0f", width: int = 460
) -> ChartSpec | None:
    """Vertical bars over an ordered axis (months, bands), highlighted ones in the accent colour."""
    if not bars:
        return None
    values = [
        {"order": i, "label": b.label, "value": _drawn(b.value), "mark": "a" if b.highlight else "b"}
        for i, b in enumerate(bars)
    ]
    spec = _base(loc, width, 160)
    spec.update(
        {
            "data": {"values": values},
            "mark": {"type": "bar"},
            "encoding": {
                "x": {
                    "field": "label",
                    "type": "ordinal",
                    "sort": {"field": "order"},
                    "title": None,
                    "axis": {"labelAngle": 0 if len(bars) <= 8 else -40},
                },
                "y": {"field": "value", "type": "quantitative", "title": axis, "axis": {"format": fmt}},
                "color": {
                    "field": "mark",
                    "type": "nominal",
                    "scale": {"domain": ["a", "b"], "range": [ACCENT, MUTED]},
                    "legend": None,
                },
            },
        }
    )
    return ChartSpec(kind, spec, len(bars), title)


def lines_chart(
    kind: str,
    series: dict[str, Sequence[tuple[str, Decimal | None]]],
    loc: Locale,
    *,
    title: str,
    axis: str,
    fmt: str = ".0%",
    width: int = 460,
) -> ChartSpec | None:
    """One line per series over ordered labels (months); a missing value leaves a gap."""
    values = [
        {"series": name, "x": label, "order": i, "y": None if v is None else _drawn(v)}
        for name, points in series.items()
        for i, (label, v) in enumerate(points)
    ]
    drawn = [name for name, points in series.items() if any(v is not None for _, v in points)]
    if not drawn:
        return None
    spec = _base(loc, width, 180)
    spec.update(
        {
            "data": {"values": values},
            "mark": {"type": "line", "point": False, "strokeWidth": 2},
            "encoding": {
                "x": {
                    "field": "x",
                    "type": "ordinal",
                    "sort": {"field": "order"},
                    "title": None,
                    "axis": {"labelAngle": 0},
                },
                "y": {"field": "y", "type": "quantitative", "title": axis, "axis": {"format": fmt}},
                "color": {"field": "series", "type": "nominal", "title": None},
            },
        }
    )
    return ChartSpec(kind, spec, len(drawn), title)


def tier_chart(ladder: Ladder, loc: Locale, *, title: str) -> ChartSpec:
    """The ladder's bands as blocks as high as their rate, reached ones in the accent colour, and a red rule
    where the person stands."""
    top = ladder.top
    attainment = ladder.axis == "attainment"
    values = [
        {
            "lower": _drawn(b.lower),
            "upper": _drawn(b.upper if b.upper is not None else top),
            "rate": _drawn(b.rate),
            "mark": "a" if b.reached else "b",
        }
        for b in ladder.bands
    ]
    layers: list[dict[str, Any]] = [
        {
            "data": {"values": values},
            "mark": {"type": "rect", "stroke": "white", "strokeWidth": 1},
            "encoding": {
                "x": {
                    "field": "lower",
                    "type": "quantitative",
                    "title": loc.t("attainment") if attainment else loc.t("measured"),
                    "axis": {"format": ".0%" if attainment else "~s"},
                    "scale": {"domain": [0, _drawn(top)], "nice": False},
                },
                "x2": {"field": "upper"},
                "y": {"field": "rate", "type": "quantitative", "title": loc.t("rate"), "axis": {"format": ".0%"}},
                "y2": {"datum": 0},
                "color": {
                    "field": "mark",
                    "type": "nominal",
                    "scale": {"domain": ["a", "b"], "range": [ACCENT, MUTED]},
                    "legend": None,
                },
            },
        }
    ]
    marks = len(values)
    if ladder.position is not None:
        layers.append(
            {
                "data": {"values": [{"at": _drawn(min(ladder.position, top))}]},
                "mark": {"type": "rule", "color": MARKER, "strokeWidth": 2},
                "encoding": {"x": {"field": "at", "type": "quantitative"}},
            }
        )
        marks += 1
    spec = _base(loc, 360, 120)
    spec["layer"] = layers
    return ChartSpec("tiers", spec, marks, title)


# --- drawing -------------------------------------------------------------------------------------------

_cache: dict[tuple[str, ChartLocale], str] = {}
_cache_lock = threading.Lock()


def _draw(spec: dict[str, Any], locale: ChartLocale) -> str:
    import vl_convert

    return str(vl_convert.vegalite_to_svg(spec, format_locale=locale, time_format_locale=locale, allowed_base_urls=[]))


def render_svgs(charts: Sequence[ChartSpec], loc: Locale, *, workers: int = 4) -> list[str]:
    """Each chart as SVG text, in order; the same chart twice is drawn once (also across calls)."""
    keys = [(c.key, loc.chart_locale) for c in charts]
    todo = {}
    with _cache_lock:
        for chart, key in zip(charts, keys):
            if key not in _cache:
                todo[key] = chart.spec
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            drawn = dict(zip(todo, pool.map(lambda spec: _draw(spec, loc.chart_locale), todo.values())))
        with _cache_lock:
            if len(_cache) > 4096:
                _cache.clear()
            _cache.update(drawn)
    with _cache_lock:
        return [_cache[key] for key in keys]
