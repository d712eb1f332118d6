import logging
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline import schemas as s
from pipeline import simulate
from pipeline.config import CostSettings, EffortSettings, HotspotSettings
from pipeline.hotspots import (
    contacts_per_thousand,
    daily_per_thousand,
    distinctive_phrases,
    expected_counts,
    find_hotspots,
    flag_spikes,
    weekday_factors,
)

AS_OF = date(2026, 3, 31)


def synthetic_stream(seed: int, days: int = 70, spikes: dict | None = None) -> pd.DataFrame:
    return simulate.synthetic_stream(seed, AS_OF, days=days, spikes=spikes)


def reason_frame(count: int = 20) -> pd.DataFrame:
    return simulate.synthetic_reasons(count)


def hotspots_for(stream: pd.DataFrame, as_of: date = AS_OF, **settings) -> pd.DataFrame:
    return find_hotspots(stream, as_of, reason_frame(), HotspotSettings(**settings), EffortSettings(), CostSettings())


def test_spikes_of_40_80_and_200_percent_are_detected():
    stream = synthetic_stream(seed=3, spikes={4: 1.4, 11: 1.8, 17: 3.0})
    hotspots = hotspots_for(stream)
    flagged = set(hotspots.loc[hotspots["spike"], "reason"])
    assert {"r04", "r11", "r17"} <= flagged
    assert len(flagged) == 3
    assert list(hotspots["reason"][:3]) == sorted(["r04", "r11", "r17"], key=lambda r: -hotspots.set_index("reason").loc[r, "excess"])


def test_stationary_days_raise_at_most_one_false_alarm():
    stream = synthetic_stream(seed=11, days=60)
    alarms = 0
    for back in range(30):
        hotspots = hotspots_for(stream, as_of=AS_OF - timedelta(days=back))
        alarms += int(hotspots["spike"].sum())
    assert alarms <= 1


def test_weekday_factors_recover_the_weekly_pattern():
    stream = synthetic_stream(seed=5)
    totals = stream.groupby(s.CONTACT_DATE).size()
    factors = weekday_factors(totals)
    assert factors[0] > factors[6] * 1.4  # Monday busier than Sunday
    assert factors.mean() == pytest.approx(1.0, abs=0.05)


def test_expected_count_follows_the_weekday_of_the_report_day():
    dates = [(date(2026, 3, 2) + timedelta(days=i)).isoformat() for i in range(28)]  # starts on a Monday
    counts = pd.DataFrame({"x": [20 if pd.Timestamp(d).weekday() == 0 else 10 for d in dates]}, index=dates)
    factors = weekday_factors(counts["x"])
    monday = expected_counts(counts, factors, date(2026, 3, 30))
    tuesday = expected_counts(counts, factors, date(2026, 3, 31))
    assert monday["x"] == pytest.approx(20)
    assert tuesday["x"] == pytest.approx(10)


def test_days_without_any_data_do_not_drag_the_baseline_down():
    dates = [(date(2026, 3, 2) + timedelta(days=i)).isoformat() for i in range(28)]
    counts = pd.DataFrame({"x": [0 if i < 14 else 10 for i in range(28)]}, index=dates)
    factors = weekday_factors(counts["x"])
    assert expected_counts(counts, factors, date(2026, 3, 30))["x"] == pytest.approx(10)


@pytest.mark.parametrize(
    ("observed", "expected", "spike"),
    [(30, 10.0, True), (12, 10.0, False), (9, 2.0, False), (14, 10.0, False), (25, 0.0, True)],
)
def test_spike_needs_significance_minimum_count_and_relative_change(observed, expected, spike):
    result = flag_spikes(pd.Series([observed]), pd.Series([expected]), HotspotSettings(min_count=10, min_relative_change=0.3))
    assert bool(result["spike"].iloc[0]) is spike


def test_pvalues_are_adjusted_across_reasons():
    observed = pd.Series([19] * 20)
    result = flag_spikes(observed, pd.Series([10.0] * 20), HotspotSettings())
    assert (result["p_adjusted"] >= result["p_value"]).all()


def test_segments_localise_a_regional_spike():
    stream = synthetic_stream(seed=8)
    stream["region"] = np.where(np.arange(len(stream)) % 2 == 0, "north", "south")
    extra = stream[(stream[s.CONTACT_DATE] == AS_OF.isoformat()) & (stream[s.REASON] == "r05")].head(1)
    burst = pd.concat([extra.assign(region="south")] * 60, ignore_index=True)
    burst[s.CONTACT_ID] = [f"burst{i}" for i in range(len(burst))]
    hotspots = hotspots_for(pd.concat([stream, burst], ignore_index=True), segments=["region"])
    flagged = hotspots[hotspots["spike"]]
    assert "region=south" in set(flagged.loc[flagged["reason"] == "r05", "segment"])
    assert "region=north" not in set(flagged.loc[flagged["reason"] == "r05", "segment"])


def test_cost_and_prize_follow_the_quadrant():
    hotspots = hotspots_for(synthetic_stream(seed=2)).set_index("reason")
    assert hotspots.loc["r00", "annual_prize"] == pytest.approx(hotspots.loc["r00", "annual_cost"])  # eliminate
    assert hotspots.loc["r01", "annual_prize"] == pytest.approx(hotspots.loc["r01", "annual_cost"] * 0.4, rel=1e-3)
    assert hotspots.loc["r02", "annual_prize"] == 0  # simplify
    assert hotspots.loc["r00", "annual_cost"] > 0


def test_distinctive_phrases_name_what_is_new():
    background = [["账单", "查询"]] * 50 + [["套餐", "变更"]] * 50
    target = [["断网", "光猫", "账单"]] * 10 + [["套餐"]] * 3
    phrases = distinctive_phrases(target, background, top=2)
    assert set(phrases) == {"断网", "光猫"}


def test_a_leverage_reason_with_high_effort_is_flagged_with_evidence():
    stream = synthetic_stream(seed=4)
    irritating = stream[s.REASON] == "r03"  # configured leverage in reason_frame
    stream.loc[irritating, s.EFFORT_SCORE] = np.where(np.arange(irritating.sum()) % 2 == 0, 4, 1)
    stream.loc[~irritating, s.EFFORT_SCORE] = np.where(np.arange((~irritating).sum()) % 10 == 0, 4, 1)
    reasons = reason_frame().assign(customer_value=4, company_value=4)
    hotspots = find_hotspots(stream, AS_OF, reasons, HotspotSettings(), EffortSettings(), CostSettings()).set_index("reason")
    assert hotspots.loc["r03", "observed_quadrant"] == "simplify"
    assert hotspots.loc["r03", "quadrant_flag"].startswith("configured leverage, data says simplify: high-effort share 50%")
    assert hotspots.loc["r07", "quadrant_flag"] == ""  # another leverage reason with ordinary effort


def denominator(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["date", "region", "count"])


def test_contacts_per_thousand_customers_per_reason_and_segment():
    hotspots = pd.DataFrame({"segment": ["", "region=south", "region=north"], "contacts": [50, 30, 20]})
    customers = denominator([("2026-03-31", "south", 10_000.0), ("2026-03-31", "north", 40_000.0), ("2026-03-30", "south", 1.0)])
    cpx = contacts_per_thousand(hotspots, customers, AS_OF)
    assert cpx.tolist() == [1.0, 3.0, 0.5]  # 50 of 50,000; 30 of 10,000; 20 of 40,000


def test_what_the_denominator_lacks_is_left_empty_with_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger="pipeline.hotspots")
    hotspots = pd.DataFrame({"segment": ["", "region=east", "channel=chat"], "contacts": [50, 30, 20]})
    customers = denominator([("2026-03-31", "south", 10_000.0)])
    cpx = contacts_per_thousand(hotspots, customers, AS_OF)
    assert cpx.iloc[0] == 5.0 and cpx.iloc[1:].isna().all()
    assert "region=['east']" in caplog.text and "no 'channel' column" in caplog.text
    caplog.clear()
    assert contacts_per_thousand(hotspots, customers, AS_OF + timedelta(days=1)).isna().all()
    assert "no row for 2026-04-01" in caplog.text


def test_daily_contacts_per_thousand_in_the_trend(caplog):
    caplog.set_level(logging.WARNING, logger="pipeline.hotspots")
    trend = pd.DataFrame({"date": ["2026-03-30", "2026-03-31", "2026-03-31"], "contacts": [4, 6, 2]})
    customers = denominator([("2026-03-31", "south", 1_000.0), ("2026-03-31", "north", 1_000.0)])
    cpx = daily_per_thousand(trend, customers)
    assert np.isnan(cpx.iloc[0]) and cpx.iloc[1:].tolist() == [3.0, 1.0]
    assert "lacks 1 of the trend's days (2026-03-30" in caplog.text


def test_phrase_samples_are_capped_seeded_and_in_order():
    from pipeline.hotspots import phrase_samples

    as_of = date(2026, 11, 20)
    days = [(as_of - timedelta(days=d)).isoformat() for d in range(29)]
    scored = pd.DataFrame({s.CONTACT_DATE: np.repeat(days, 50), s.REASON: np.tile(["billing", "outage"], 29 * 25)})
    hotspots = pd.DataFrame({s.REASON: ["billing", "outage"], "segment": ["", ""]})
    settings = HotspotSettings()
    capped = phrase_samples(hotspots, scored, as_of, settings, limit=100, seed=3)
    whole = phrase_samples(hotspots, scored, as_of, settings)
    for (today, background), (all_today, all_background) in zip(capped, whole):
        assert len(today) == len(all_today) == 25  # under the cap: every row
        assert len(background) == 100 < len(all_background) == 25 * 28
        assert background.is_monotonic_increasing and set(background) <= set(all_background)
    assert [list(b) for _, b in capped] == [list(b) for _, b in phrase_samples(hotspots, scored, as_of, settings, limit=100, seed=3)]
