"""Labels in Chinese and English, and numbers, money, percentages and dates as each locale writes them.

Numbers go through Babel (the Unicode CLDR data): ``¥1,312,929.55`` in Chinese, ``CN¥1,312,929.55`` in
English, always with the currency, and from the exact ``Decimal`` (never a float). A label missing
from a language falls back to English, then to the key itself, so a new plan's rule id still shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Final, Literal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

from ..errors import ConfigurationError
from .labels import LABELS

__all__ = ["LANGUAGES", "Locale", "locale_for"]

LANGUAGES: Final = ("en", "zh")
_BABEL = {"en": "en_US", "zh": "zh_Hans_CN"}
ChartLocale = Literal["en-US", "zh-CN"]
_CHART: dict[str, ChartLocale] = {"en": "en-US", "zh": "zh-CN"}


@dataclass(frozen=True)
class Locale:
    """One language of the reports: its labels and how it writes numbers."""

    lang: str

    @property
    def babel(self) -> str:
        return _BABEL[self.lang]

    @property
    def chart_locale(self) -> ChartLocale:
        """The locale name the chart renderer formats axis numbers with."""
        return _CHART[self.lang]

    @property
    def html_lang(self) -> str:
        return "zh-CN" if self.lang == "zh" else "en"

    def t(self, key: str, **values: object) -> str:
        """The label ``key`` in this language, with ``{name}`` fields filled from ``values``."""
        entry = LABELS.get(key)
        text = key.replace("_", " ") if entry is None else entry.get(self.lang) or entry["en"]
        return text.format(**values) if values else text

    def money(self, amount: Decimal | None, currency: str | None) -> str:
        """An amount with its currency, every cent shown (digits beyond the currency's kept, never rounded)."""
        if amount is None:
            return "—"
        if not currency:
            return format_decimal(amount, locale=self.babel, decimal_quantization=False)
        return format_currency(amount, currency, locale=self.babel, decimal_quantization=False)

    def number(self, value: Decimal | int | None, places: int | None = None) -> str:
        """A count or measure with the locale's grouping; ``places`` fixes the decimals shown."""
        if value is None:
            return "—"
        if places is not None:
            pattern = "#,##0" + ("." + "0" * places if places else "")
            return format_decimal(Decimal(value), format=pattern, locale=self.babel)
        return format_decimal(Decimal(value), locale=self.babel, decimal_quantization=False)

    def percent(self, ratio: Decimal | None, places: int = 1) -> str:
        """A ratio as a percentage: 0.930832 → 93.1%."""
        if ratio is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * places if places else "") + "%"
        return format_percent(ratio, format=pattern, locale=self.babel)

    def day(self, value: date | datetime | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            return format_datetime(value, format="medium", locale=self.babel)
        return format_date(value, format="medium", locale=self.babel)

    def period(self, label: str) -> str:
        """A period label as people say it: 2026-11 → November 2026 / 2026年11月."""
        parts = label.split("-")
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            year, month = int(parts[0]), int(parts[1])
            if 1 <= month <= 12:
                return format_date(
                    date(year, month, 1), format="yyyy年M月" if self.lang == "zh" else "LLLL yyyy", locale=self.babel
                )
        return label


def locale_for(lang: str) -> Locale:
    """The ``Locale`` of ``zh`` or ``en``; anything else is a configuration error naming the choices."""
    if lang not in LANGUAGES:
        raise ConfigurationError(
            f"{lang!r} is not a language of the reports.", hint=f"use one of {', '.join(LANGUAGES)}"
        )
    return Locale(lang)
