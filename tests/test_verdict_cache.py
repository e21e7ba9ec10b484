"""The escape-verdict cache: what it keeps comes back, and a damaged entry is asked again."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_go_autoinst.build import load_verdicts, store_verdicts


def test_verdicts_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    verdicts = {("example.com/hooks", "enter"): [False, True]}
    store_verdicts("k1", verdicts)
    assert load_verdicts("k1") == verdicts
    assert load_verdicts("absent") is None


@pytest.mark.parametrize("content", ["not json", "{}", "[[1, 2]]", '[["p", "n", 3]]'])
def test_a_damaged_entry_is_no_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    entry = tmp_path / "otel-go-autoinst" / "verdicts" / "k2.json"
    entry.parent.mkdir(parents=True)
    entry.write_text(content, encoding="utf-8")
    assert load_verdicts("k2") is None
