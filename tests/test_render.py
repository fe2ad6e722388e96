"""Tables line up in a terminal whatever script the names are written in."""

from __future__ import annotations

from kpi_engine.render import render


def test_wide_narrow_and_combining_characters_take_the_columns_a_terminal_gives_them():
    names = [
        "王伟",  # two wide characters: four columns
        "ｶﾀｶﾅ",  # half-width katakana: one column each, four
        "Jose\u0301",  # e and a combining acute accent: four columns
        "Ａｂ",  # full-width Latin: two columns each, four
        "plain",  # five columns: the widest
    ]
    table = render([{"name": n, "tag": "x"} for n in names], ["name", "tag"])
    assert table.splitlines() == [
        "name   tag",
        "-----  ---",
        "王伟   x",
        "ｶﾀｶﾅ   x",
        "Jose\u0301   x",
        "Ａｂ   x",
        "plain  x",
    ]
