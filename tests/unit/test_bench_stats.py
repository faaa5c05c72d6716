"""The statistics and the table of the benchmarks (bench/): the figures the closing notes quote."""

from __future__ import annotations

import pytest

from bench.report import Row, fmt, table
from bench.stats import percentile, rate, ratio, summary


@pytest.mark.parametrize(
    "values, q, expected",
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 95, 3.85),  # linear between ranks, as numpy's default
        ([4, 1, 3, 2], 0, 1),  # order of the input does not matter
        ([4, 1, 3, 2], 100, 4),
        ([7.5], 95, 7.5),
        (list(range(1, 101)), 95, 95.05),
    ],
)
def test_percentile_interpolates_between_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_bad_q_is_refused():
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="within 0..100"):
        percentile([1], 101)


def test_summary_of_values_and_of_nothing():
    s = summary([3.0, 1.0, 2.0])
    assert s == {"n": 3, "p50": 2.0, "p95": pytest.approx(2.9), "mean": 2.0, "min": 1.0, "max": 3.0}
    assert summary([]) == {"n": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None}


def test_ratio_and_rate_without_a_baseline_are_none():
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None and ratio(1.0, None) is None and ratio(1.0, 0) is None
    assert rate(30, 30) == 1.0 and rate(0, 30) == 0.0 and rate(0, 0) is None


def test_table_aligns_columns_and_shows_missing_figures_as_dashes():
    rows = [Row("burst", "burst 30: success rate", 1.0, 0.0, "share", tuned=0.5),
            Row("burst", "burst 30: p50 to ready", 42.0, None),
            Row("memory", "idle server: RSS", 100 * 2**20, 50 * 2**20, "bytes")]
    lines = table(rows).splitlines()
    assert lines[0].split() == ["benchmark", "figure", "labhub", "stock-tuned", "stock", "labhub/tuned", "labhub/stock"]
    # Every column starts at the same offset on every line.
    starts = [lines[0].index(h) for h in ("figure", "labhub ", "stock-tuned", " stock ", "labhub/tuned", "labhub/stock")]
    for line in lines[2:]:
        assert all(line[s - 2:s] == "  " for s in starts)
    assert "100 %" in lines[2] and "50 %" in lines[2] and lines[2].split()[-2:] == ["2.00", "-"]  # no ratio to 0
    assert "42.0 s" in lines[3] and lines[3].rstrip().endswith("-")
    assert lines[4].split()[-2:] == ["-", "2.00"]


def test_figures_are_printed_in_their_units():
    assert fmt(0.0123, "s") == "12 ms" and fmt(12.34, "s") == "12.3 s"
    assert fmt(0.0123, "ms") == "12.3 ms"
    assert fmt(3 * 2**30, "bytes") == "3.00 GiB" and fmt(5 * 2**20, "bytes") == "5 MiB"
    assert fmt(0.5, "share") == "50 %" and fmt(None, "s") == "-" and fmt(7, "count") == "7"
