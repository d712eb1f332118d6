"""Hotspots: volumes, weekday-aware baselines, tested spikes, effort and cost per reason.

For the as-of day, each reason's (and each segment's) count is compared with the count expected
from the previous ``baseline_days``: the reason's mean daily count after removing the weekly
pattern, times the weekday factor of the as-of day. A one-sided Poisson test gives a p-value;
p-values are adjusted across every reason and segment tested (Benjamini–Hochberg); a spike also
needs a minimum count and a minimum relative change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, poisson

from pipeline import schemas as s
from pipeline.config import UNKNOWN_REASON, CostSettings, EffortSettings, HotspotSettings
from pipeline.labels import plain_groups
from pipeline.pii import PLACEHOLDERS

PLACEHOLDER_TOKENS = PLACEHOLDERS

log = logging.getLogger(__name__)

MINIMUM_EXPECTED = 0.5  # a reason never seen in the baseline is tested against half a contact a day


@dataclass(frozen=True)
class Window:
    as_of: date
    days: int

    @property
    def start(self) -> date:
        return self.as_of - timedelta(days=self.days)

    @property
    def history_dates(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range(self.days)]

    @property
    def as_of_text(self) -> str:
        return self.as_of.isoformat()

    def rows(self, scored: pd.DataFrame, dates: list[str] | None = None) -> pd.DataFrame:
        """The rows of ``scored`` on ``dates`` (by default the window's days and the as-of day):
        ``scored`` itself when all of them are, so a window of millions is not copied (the
        stages only read these frames)."""
        on = scored[s.CONTACT_DATE].isin([*self.history_dates, self.as_of_text] if dates is None else dates)
        return scored if on.all() else scored[on]


def count_contacts(scored: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Contacts per contact date × group, one row each (``contacts``): the aggregate behind the
    baselines, which the Spark engine computes on its cluster instead (rows with a missing key
    are not counted). Keys are plain strings, also where ``scored`` holds categoricals."""
    return plain_groups(scored.groupby([s.CONTACT_DATE, *by], observed=True).size()).rename("contacts").reset_index()


def daily_counts(counts: pd.DataFrame, dates: list[str], by: list[str]) -> pd.DataFrame:
    """Contacts per day (rows) × group (columns), zero-filled over ``dates``, from ``count_contacts``."""
    counts = counts.sort_values([s.CONTACT_DATE, *by], kind="mergesort").set_index([s.CONTACT_DATE, *by])["contacts"]
    table = counts.unstack(by, fill_value=0) if by else counts.to_frame("all")
    return table.reindex(dates, fill_value=0)


def group_keys(settings: HotspotSettings, columns) -> list[list[str]]:
    """The groupings a report counts by: all contacts, reason, and reason × each present segment."""
    return [[], [s.REASON], *([s.REASON, segment] for segment in settings.segments if segment in columns)]


def weekday_factors(totals: pd.Series) -> pd.Series:
    """Mean daily total per weekday relative to the overall mean (days with no data left out)."""
    observed = totals[totals > 0]
    weekdays = pd.to_datetime(observed.index).weekday
    overall = observed.mean() if len(observed) else 0.0
    factors = pd.Series(1.0, index=range(7))
    if overall > 0:
        means = observed.groupby(weekdays).mean() / overall
        factors.loc[means.index] = means.to_numpy()
    return factors


def expected_counts(history: pd.DataFrame, factors: pd.Series, as_of: date) -> pd.Series:
    """Deseasonalised mean of each column over days with data, times the as-of weekday factor."""
    observed_days = history.index[history.sum(axis=1) > 0]
    if len(observed_days) == 0:
        return pd.Series(0.0, index=history.columns)
    weights = factors.reindex(pd.to_datetime(observed_days).weekday).to_numpy()
    deseasonalised = history.loc[observed_days].div(weights, axis=0).mean()
    return deseasonalised * factors[as_of.weekday()]


def flag_spikes(observed: pd.Series, expected: pd.Series, settings: HotspotSettings) -> pd.DataFrame:
    """One-sided Poisson p-values, BH-adjusted together, and the spike decision."""
    lam = expected.clip(lower=MINIMUM_EXPECTED)
    p_value = pd.Series(poisson.sf(observed.to_numpy() - 1, lam.to_numpy()), index=observed.index)
    adjusted = pd.Series(false_discovery_control(p_value.to_numpy(), method="bh"), index=observed.index) if len(p_value) else p_value
    change = (observed - expected) / expected.where(expected > 0)
    spike = (
        (adjusted < settings.alpha)
        & (observed >= settings.min_count)
        & ((change >= settings.min_relative_change) | expected.eq(0))
    )
    return pd.DataFrame({"p_value": p_value, "p_adjusted": adjusted, "change_pct": change * 100, "spike": spike})


def group_metrics(day: pd.DataFrame, by: list[str], effort: EffortSettings) -> pd.DataFrame:
    """Effort, repeat and transfer rates and mean handle time per group on the as-of day."""
    frame = pd.DataFrame(
        {
            "high_effort": day[s.EFFORT_SCORE] >= effort.high_effort_score,
            "repeat": day["effort_repeat_contact"],
            "transferred": day["effort_transfer"],
            "handle_min": pd.to_numeric(day.get(s.HANDLE_TIME_S), errors="coerce") / 60 if s.HANDLE_TIME_S in day else np.nan,
            **{column: day[column] for column in by},
        }
    )
    grouped = frame.groupby(by, observed=True)
    return plain_groups(
        pd.DataFrame(
            {
                "effort_rate": grouped["high_effort"].mean(),
                "repeat_rate": grouped["repeat"].mean(),
                "transfer_rate": grouped["transferred"].mean(),
                "mean_handle_min": grouped["handle_min"].mean(),
            }
        )
    )


def find_hotspots(
    scored: pd.DataFrame,
    as_of: date,
    reasons: pd.DataFrame,
    settings: HotspotSettings,
    effort: EffortSettings,
    cost: CostSettings,
    counts: dict[tuple[str, ...], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per reason (and per reason × segment value), ranked: spikes first, by excess.

    ``counts`` maps each grouping of ``group_keys`` to its ``count_contacts`` over the window,
    when an engine has counted already; by default they are counted here.
    """
    window = Window(as_of, settings.baseline_days)
    in_window = window.rows(scored)
    day = window.rows(in_window, [window.as_of_text])
    if counts is None:
        counts = {tuple(by): count_contacts(in_window, by) for by in group_keys(settings, scored.columns)}
    all_history = daily_counts(counts[()], window.history_dates, [])["all"]
    factors = weekday_factors(all_history)

    blocks = [_block(counts, day, window, factors, [s.REASON], settings, effort)]
    for segment in settings.segments:
        if segment not in scored.columns:
            continue
        block = _block(counts, day, window, factors, [s.REASON, segment], settings, effort)
        block.insert(1, "segment", segment + "=" + block[segment].astype(str))
        blocks.append(block.drop(columns=[segment]))
    hotspots = pd.concat(blocks, ignore_index=True)
    hotspots["segment"] = hotspots["segment"].fillna("") if "segment" in hotspots else ""

    tested = hotspots[s.REASON] != UNKNOWN_REASON
    decisions = flag_spikes(hotspots.loc[tested, "contacts"], hotspots.loc[tested, "baseline"], settings)
    hotspots = hotspots.join(decisions)
    hotspots["spike"] = hotspots["spike"].eq(True)

    total_day = max(len(day), 1)
    hotspots["share"] = hotspots["contacts"] / total_day
    hotspots["excess"] = hotspots["contacts"] - hotspots["baseline"]
    hotspots = hotspots.merge(reasons, on=s.REASON, how="left")
    hotspots = hotspots.merge(observed_quadrants(in_window, reasons, settings, effort), on=s.REASON, how="left")
    hotspots = add_costs(hotspots, cost, len(window.history_dates))
    hotspots = hotspots.sort_values(["spike", "excess", "contacts"], ascending=[False, False, False], kind="mergesort")
    hotspots.insert(0, "rank", range(1, len(hotspots) + 1))
    log.info(
        "hotspots - %s: %d contacts, %d groups tested, %d spikes",
        window.as_of_text, len(day), int(tested.sum()), int(hotspots["spike"].sum()),
    )
    return hotspots.reset_index(drop=True)


def _block(counts, day, window, factors, by, settings, effort) -> pd.DataFrame:
    history = daily_counts(counts[tuple(by)], window.history_dates, by)
    expected = expected_counts(history, factors, window.as_of)
    observed = plain_groups(day.groupby(by, observed=True).size())
    index = expected.index.union(observed.index)
    block = pd.DataFrame(
        {
            "contacts": observed.reindex(index, fill_value=0).astype(int),
            "baseline": expected.reindex(index, fill_value=0.0).round(2),
            "baseline_daily_mean": history.mean().reindex(index, fill_value=0.0),
        }
    )
    block = block.join(group_metrics(day, by, effort))
    block.index = block.index.set_names(by)
    return block.reset_index()


def observed_quadrants(
    in_window: pd.DataFrame, reasons: pd.DataFrame, settings: HotspotSettings, effort: EffortSettings
) -> pd.DataFrame:
    """Where the data puts each reason on the customer axis, beside the configured quadrant.

    Over the whole window, a reason whose share of high-effort contacts (repeat, transfer,
    long wait, unresolved, escalation …) is ``irritation_ratio`` times the overall share is
    irritating customers; one at most the overall share divided by that ratio is easy for them. The company axis stays as
    configured: the data says nothing about the company's value. A disagreement is flagged with
    the evidence a manager can check.
    """
    if in_window.empty:
        return pd.DataFrame(columns=[s.REASON, "observed_effort_rate", "observed_quadrant", "quadrant_flag"])
    high = in_window[s.EFFORT_SCORE] >= effort.high_effort_score
    overall = float(high.mean())
    frame = pd.DataFrame(
        {
            s.REASON: in_window[s.REASON],
            "high": high,
            "repeat": in_window["effort_repeat_contact"],
            "transfer": in_window["effort_transfer"],
            "unresolved": in_window.get("effort_unresolved", False),
        }
    )
    rates = plain_groups(frame.groupby(s.REASON, observed=True).mean())
    configured = reasons.set_index("reason")
    rows = []
    for reason, rate in rates.iterrows():
        if reason not in configured.index or configured.loc[reason, "quadrant"] == "unassigned":
            continue
        row = configured.loc[reason]
        company_high = row["quadrant"] in ("leverage", "simplify")
        if rate["high"] >= overall * settings.irritation_ratio:  # irritating customers
            observed = "simplify" if company_high else "eliminate"
        elif rate["high"] <= overall / settings.irritation_ratio:  # easy: customers get what they came for
            observed = "leverage" if company_high else "automate"
        else:
            observed = row["quadrant"]
        evidence = (
            f"high-effort share {rate['high']:.0%} vs {overall:.0%} overall; repeat {rate['repeat']:.0%}, "
            f"transferred {rate['transfer']:.0%}, unresolved {rate['unresolved']:.0%}"
        )
        flag = f"configured {row['quadrant']}, data says {observed}: {evidence}" if observed != row["quadrant"] else ""
        rows.append({s.REASON: reason, "observed_effort_rate": round(float(rate["high"]), 3), "observed_quadrant": observed, "quadrant_flag": flag})
    return pd.DataFrame(rows, columns=[s.REASON, "observed_effort_rate", "observed_quadrant", "quadrant_flag"])


def add_costs(hotspots: pd.DataFrame, cost: CostSettings, history_days: int) -> pd.DataFrame:
    """Handle time × cost per minute: today's cost, the annual run rate and the prize.

    The annual figure uses the baseline daily mean (not the spike day), so it describes the
    reason's normal cost; the prize is what eliminating it (eliminate quadrant) or deflecting
    ``deflection_rate`` of it to self-service (automate quadrant) would save a year.
    """
    hotspots = hotspots.copy()
    minutes = hotspots["mean_handle_min"].fillna(0)
    hotspots["estimated_cost"] = (hotspots["contacts"] * minutes * cost.cost_per_minute).round(2)
    hotspots["annual_cost"] = (hotspots["baseline_daily_mean"] * 365 * minutes * cost.cost_per_minute).round(0)
    share = np.select(
        [hotspots["quadrant"].eq("eliminate"), hotspots["quadrant"].eq("automate")], [1.0, cost.deflection_rate], 0.0
    )
    hotspots["annual_prize"] = (hotspots["annual_cost"] * share).round(0)
    hotspots["currency"] = cost.currency
    return hotspots


def distinctive_phrases(
    target: list[list[str]], background: list[list[str]], top: int, prior_strength: float = 50.0
) -> list[str]:
    """Tokens most over-represented in ``target`` against ``background``.

    Log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008), ranked
    by z-score, so a rare word seen twice does not outrank a common word that tripled.
    """
    if top == 0 or not target:
        return []
    target_counts = pd.Series([t for tokens in target for t in tokens], dtype=object).value_counts()
    background_counts = pd.Series([t for tokens in background for t in tokens], dtype=object).value_counts()
    vocabulary = target_counts.index.union(background_counts.index)
    y_t = target_counts.reindex(vocabulary, fill_value=0).astype(float)
    y_b = background_counts.reindex(vocabulary, fill_value=0).astype(float)
    pooled = y_t + y_b
    alpha = prior_strength * pooled / pooled.sum()
    n_t, n_b, a0 = y_t.sum(), y_b.sum(), alpha.sum()
    delta = np.log((y_t + alpha) / (n_t + a0 - y_t - alpha)) - np.log((y_b + alpha) / (n_b + a0 - y_b - alpha))
    variance = 1 / (y_t + alpha) + 1 / (y_b + alpha)
    z = delta / np.sqrt(variance)
    # single characters (断, 号, a) say little to a reader; placeholders (xxphone …) say nothing
    readable = np.array([len(str(token)) > 1 and token not in PLACEHOLDER_TOKENS for token in vocabulary], dtype=bool)
    z = z[(y_t.to_numpy() >= 2) & readable]
    return [str(token) for token in z.sort_values(ascending=False).index[:top]]


def phrase_samples(
    hotspots: pd.DataFrame, scored: pd.DataFrame, as_of: date, settings: HotspotSettings,
    limit: int | None = None, seed: int = 0,
) -> list[tuple[pd.Index, pd.Index]]:
    """Per hotspot row, the rows whose texts its phrases come from: today's members, and the
    background (the reason's own history, or all other contacts for a new or tiny reason).
    Each side is a seeded random sample of at most ``limit`` rows, in ``scored`` order."""
    window = Window(as_of, settings.baseline_days)
    is_day = scored[s.CONTACT_DATE] == window.as_of_text
    in_history = scored[s.CONTACT_DATE].isin(window.history_dates)
    samples = []
    for row in hotspots.itertuples(index=False):
        members = _members(scored, row)
        background = scored.index[members & in_history]
        if len(background) < 20:  # a new or tiny reason: compare with all other contacts
            background = scored.index[in_history & ~members]
        today = scored.index[members & is_day]
        samples.append((_at_most(today, limit, seed), _at_most(background, limit, seed)))
    return samples


def _members(scored: pd.DataFrame, row) -> pd.Series:
    members = scored[s.REASON] == row.reason
    if row.segment:
        column, value = row.segment.split("=", 1)
        members &= scored[column].astype(str) == value
    return members


def _at_most(index: pd.Index, limit: int | None, seed: int) -> pd.Index:
    if limit is None or len(index) <= limit:
        return index
    return index[np.sort(np.random.default_rng(seed).choice(len(index), limit, replace=False))]


def explain_hotspots(
    hotspots: pd.DataFrame,
    scored: pd.DataFrame,
    tokens: pd.Series,
    as_of: date,
    settings: HotspotSettings,
    samples: list[tuple[pd.Index, pd.Index]] | None = None,
) -> pd.DataFrame:
    """Top phrases against the reason's own baseline and example contact ids, per hotspot row.

    ``tokens`` holds the token list of rows of ``scored`` (same index): all of them, or those
    of ``samples`` (from :func:`phrase_samples`).
    """
    window = Window(as_of, settings.baseline_days)
    is_day = scored[s.CONTACT_DATE] == window.as_of_text
    samples = samples if samples is not None else phrase_samples(hotspots, scored, as_of, settings)
    phrases, examples = [], []
    for row, (today_rows, background_rows) in zip(hotspots.itertuples(index=False), samples):
        target, background = list(tokens.loc[today_rows]), list(tokens.loc[background_rows])
        phrases.append(" | ".join(distinctive_phrases(target, background, settings.top_phrases)))
        today = scored[_members(scored, row) & is_day]
        chosen = today.sort_values(s.CONFIDENCE, ascending=False, kind="mergesort").head(settings.examples)
        examples.append(" ".join(chosen[s.CONTACT_ID].astype(str)))
    return hotspots.assign(top_phrases=phrases, example_contact_ids=examples)


def contacts_per_thousand(hotspots: pd.DataFrame, denominator: pd.DataFrame, as_of: date) -> pd.Series:
    """Contacts per 1,000 customers (or orders) on the as-of day, per hotspot row (CPX).

    A reason row is divided by the day's total in ``denominator`` (columns ``date``, segment
    columns, ``count``); a segment row (``region=South``) by that segment's total, when the file
    has the column. What the file lacks is left empty, with a warning that says what is missing.
    """
    empty = pd.Series(np.nan, index=hotspots.index, dtype=float)
    day = denominator[denominator["date"] == as_of.isoformat()]
    if day.empty:
        log.warning("hotspots - the denominator file has no row for %s: contacts_per_1000 left empty", as_of)
        return empty
    totals = pd.Series(np.nan, index=hotspots.index, dtype=float)
    totals[hotspots["segment"] == ""] = day["count"].sum()
    segmented = hotspots.loc[hotspots["segment"] != "", "segment"].str.split("=", n=1, expand=True)
    for column, members in segmented.groupby(0) if len(segmented) else ():
        if column not in day.columns:
            log.warning("hotspots - the denominator file has no %r column: contacts_per_1000 left empty for %s rows", column, column)
            continue
        by_value = day.groupby(column)["count"].sum()
        absent = sorted(set(members[1]) - set(by_value.index))
        if absent:
            log.warning("hotspots - the denominator file has no %s row for %s=%s: contacts_per_1000 left empty there", as_of, column, absent)
        totals[members.index] = members[1].map(by_value).to_numpy(dtype=float)
    return (hotspots["contacts"] / totals.where(totals > 0) * 1000).round(3)


def daily_per_thousand(trend: pd.DataFrame, denominator: pd.DataFrame) -> pd.Series:
    """Contacts per 1,000 customers (or orders) per row of the day × reason trend."""
    totals = denominator.groupby("date")["count"].sum()
    absent = sorted(set(trend["date"]) - set(totals.index))
    if absent:
        log.warning("hotspots - the denominator file lacks %d of the trend's days (%s …): contacts_per_1000 left empty there", len(absent), absent[0])
    per_day = trend["date"].map(totals)
    return (trend["contacts"] / per_day.where(per_day > 0) * 1000).round(3)
