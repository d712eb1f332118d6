"""Report: the files a manager opens in the morning (DESIGN §5), built from scored contacts.

``build_report`` is pure (frames in, frames and HTML out); ``write_report`` is the edge.
"""

from __future__ import annotations

import html
import logging
import math
import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import schemas as s
from pipeline.config import UNKNOWN_REASON, WORKER_SERVER_PRELOAD, PipelineConfig, worker_count
from pipeline.discover import propose_new_reasons
from pipeline.errors import ReportError
from pipeline.hotspots import (
    Window,
    contacts_per_thousand,
    daily_per_thousand,
    explain_hotspots,
    find_hotspots,
    phrase_samples,
)
from pipeline.io import staged_folder, write_csv, write_json, write_text
from pipeline.labels import as_strings, fill_labels, plain_groups, plain_labels
from pipeline.normalize import prepare_texts
from pipeline.pii import mask_pii_series
from pipeline.predict import CANDIDATE
from pipeline.selfservice import self_service_candidates, self_service_members
from pipeline.tokenize import Tokenizer

log = logging.getLogger(__name__)

HOTSPOT_COLUMNS = [
    "rank", "reason", "segment", "name_zh", "name_en", "predicted_by", "quadrant", "observed_quadrant", "quadrant_flag",
    "customer_value", "company_value", "action", "contacts", "share",
    "baseline", "change_pct", "p_value", "p_adjusted", "spike", "effort_rate", "repeat_rate",
    "transfer_rate", "observed_effort_rate", "mean_handle_min", "estimated_cost", "annual_cost", "annual_prize", "currency",
    "default_root_cause", "owner", "top_phrases", "example_contact_ids",
]
QUADRANT_ORDER = ["eliminate", "automate", "simplify", "leverage", "unassigned"]


def report_columns(config: PipelineConfig) -> list[str]:
    """The scored columns a report reads besides the text (which it fetches row by row)."""
    columns = [
        s.CONTACT_ID, s.REASON, CANDIDATE, s.CONFIDENCE, s.ROOT_CAUSE, s.CHANNEL, s.HANDLE_TIME_S,
        s.EFFORT_SCORE, *s.EFFORT_COLUMNS, s.PREDICTED_BY, *config.hotspots.segments,
    ]
    return list(dict.fromkeys(columns))


@dataclass
class Report:
    as_of: date
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    html: str = ""


def build_report(
    scored: pd.DataFrame,
    as_of: date,
    reasons: pd.DataFrame,
    config: PipelineConfig,
    tokenizer: Tokenizer,
    denominator: pd.DataFrame | None = None,
    texts: Callable[[pd.Index], pd.Series] | None = None,
    counts: dict[tuple[str, ...], pd.DataFrame] | None = None,
) -> Report:
    """The report tables and page as of ``as_of``.

    ``denominator`` (from ``io.read_denominator``) adds contacts per 1,000 customers or orders.
    ``texts`` gives the texts of rows of ``scored`` by index when ``scored`` holds none (a
    large store): only the texts the report shows or samples are fetched. ``counts``: the
    window's daily contact counts when an engine has them (see find_hotspots). Label columns
    of ``scored`` may be categoricals (``read_store(..., label_categories=True)``): the report
    reads the same.
    """
    settings = config.hotspots
    window = Window(as_of, settings.baseline_days)
    in_window = window.rows(scored)
    texts_of = texts or (lambda index: in_window.loc[index, s.TEXT])
    hotspots = find_hotspots(in_window, as_of, reasons, settings, config.effort, config.cost, counts)
    samples = phrase_samples(hotspots, in_window, as_of, settings, config.runtime.phrase_sample, config.model.seed)
    needed = pd.Index(sorted({i for pair in samples for side in pair for i in side}), dtype=in_window.index.dtype)
    day = window.rows(in_window, [window.as_of_text])
    queued = review_rows(day, settings.review_queue_size)
    clustered = new_reason_rows(day, config.runtime.phrase_sample, config.model.seed)
    compared = self_service_members(in_window, hotspots[hotspots["segment"] == ""], config.model.seed)
    later = queued.union(clustered).append([*compared.values()]).unique()
    # every text the report reads, fetched at once: from a large store each fetch reads the
    # row groups holding its rows, and random samples touch nearly all of them
    fetched = texts_of(needed.union(later))
    tokens = sample_tokens(fetched.loc[needed], config, tokenizer)
    fetched = fetched[fetched.index.isin(later)]  # the phrase samples' texts are done with
    texts_of = fetched.loc.__getitem__
    hotspots = explain_hotspots(hotspots, in_window, tokens, as_of, settings, samples)
    hotspots = hotspots.assign(predicted_by=hotspots[s.REASON].map(reason_sources(day)).fillna(""))
    new_reasons = new_reason_proposals(day, clustered, texts_of, tokens, tokenizer, config)
    reason_rows = hotspots[hotspots["segment"] == ""]
    columns = list(HOTSPOT_COLUMNS)
    if denominator is not None:
        hotspots["contacts_per_1000"] = contacts_per_thousand(hotspots, denominator, as_of)
        columns.insert(columns.index("contacts") + 1, "contacts_per_1000")
    tables = {
        "hotspots": readable(hotspots[columns]),
        "quadrants": quadrant_summary(reason_rows),
        "root_causes": root_cause_summary(in_window, window, reasons),
        "trend": trend_table(in_window, window, reasons, denominator),
        "self_service": self_service_candidates(in_window, reason_rows, config.model.seed, texts_of, compared),
        "review_queue": review_queue(day.loc[queued], settings.review_queue_size, config.normalize.order_number_patterns, texts_of),
        "new_reasons": new_reasons,
    }
    return Report(as_of, tables, render_html(tables, as_of, config.quadrant_cutoff))


SPLIT_TOKENS_FROM = 4_000  # texts: below this a second process costs more than it saves


def _tokens(texts: list[object], view: str, to_simplified: bool, tokenizer: Tokenizer) -> list[list[str]]:
    """Interned as they come: 50,000 texts' tokens held as separate strings take ~200 MB, as one
    copy of each word a few; pickled back from a helper process they stay shared (pickle's memo)."""
    prepared = prepare_texts(texts, view=view, to_simplified=to_simplified)
    return [list(map(sys.intern, tokenizer(text))) for text in prepared]


def sample_tokens(texts: pd.Series, config: PipelineConfig, tokenizer: Tokenizer) -> pd.Series:
    """Each text's tokens (normalized as for the features), interned: the samples' tokens repeat
    a small vocabulary; one copy of each word, not millions.

    A large sample (a million-contact night's phrase samples: ~50,000 texts, 4 s) is shared
    with one process from the scoring workers' fork server: this process tokenizes the first
    half while it does the second, when ``runtime.workers`` allows a second core."""
    options = (config.normalize.view, config.normalize.to_simplified, tokenizer)
    values = texts.tolist()
    if len(values) < SPLIT_TOKENS_FROM or worker_count(config.runtime) < 2:
        lists = _tokens(values, *options)
    else:
        half = len(values) // 2
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(WORKER_SERVER_PRELOAD)
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            second = pool.submit(_tokens, values[half:], *options)
            lists = _tokens(values[:half], *options)
            try:
                lists += [list(map(sys.intern, tokens)) for tokens in second.result()]  # this process's copies
            except BrokenProcessPool:
                raise ReportError("the process tokenizing the report's samples died (out of memory?); set runtime.workers: 1") from None
    return pd.Series(lists, index=texts.index, dtype=object)


def new_reason_rows(day: pd.DataFrame, limit: int, seed: int) -> pd.Index:
    """The rows ``new_reasons.csv`` clusters: the day's unknown contacts (at most ``limit``) and a
    sample of the rest of the day of the same size, in the day's order."""
    unknown = day.index[day[s.REASON] == UNKNOWN_REASON]
    if len(unknown) > limit:
        unknown = pd.Index(sorted(pd.Series(unknown).sample(limit, random_state=seed)), dtype=day.index.dtype)
    others = day.index.difference(unknown)
    if len(others) > limit:
        others = pd.Index(pd.Series(others).sample(limit, random_state=seed), dtype=day.index.dtype)
    return day.index[day.index.isin(unknown.union(others))]


def new_reason_proposals(
    day: pd.DataFrame, rows: pd.Index, texts_of: Callable[[pd.Index], pd.Series], tokens: pd.Series, tokenizer: Tokenizer,
    config: PipelineConfig,
) -> pd.DataFrame:
    """``new_reasons.csv``: the day's ``rows`` (:func:`new_reason_rows`) clustered; texts fetched
    only for those rows."""
    seed = config.model.seed
    sample = plain_labels(day.loc[rows]).assign(**{s.TEXT: texts_of(rows)})
    missing = rows.difference(tokens.index)
    prepared = prepare_texts(sample.loc[missing, s.TEXT], view=config.normalize.view, to_simplified=config.normalize.to_simplified)
    fresh = pd.Series([tokenizer(text) for text in prepared], index=missing, dtype=object)
    sample_tokens = pd.concat([tokens[tokens.index.isin(rows)], fresh]).loc[rows]
    proposals, _ = propose_new_reasons(
        sample, sample_tokens, config.review, config.normalize.order_number_patterns, seed, config.normalize.view
    )
    return proposals

def readable(table: pd.DataFrame) -> pd.DataFrame:
    """Round figures to what a manager reads; p-values keep three significant digits."""
    table = table.copy()
    decimals = {"share": 4, "change_pct": 1, "effort_rate": 3, "repeat_rate": 3, "transfer_rate": 3, "mean_handle_min": 2, "baseline": 2}
    for column, places in decimals.items():
        if column in table:
            table[column] = table[column].astype(float).round(places)
    for column in ("p_value", "p_adjusted"):
        if column in table:
            table[column] = table[column].map(lambda p: float(f"{p:.3g}") if pd.notna(p) else p)
    return table


def _top_reasons(frame: pd.DataFrame, count: int = 3) -> str:
    top = frame.sort_values("contacts", ascending=False).head(count)
    return "; ".join(f"{r.name_en} ({r.contacts})" for r in top.itertuples() if r.contacts > 0)


def reason_sources(day: pd.DataFrame) -> pd.Series:
    """Per reason: who decided today's contacts — ``model``, ``rules`` (cold start) or both."""
    if s.PREDICTED_BY not in day or day.empty:  # scored before the rules existed: a model
        return pd.Series("model", index=pd.Index(day[s.REASON].unique() if len(day) else []), dtype=object)
    sources = fill_labels(day[s.PREDICTED_BY], "model")
    joined = sources.groupby(day[s.REASON], observed=True).agg(lambda values: "+".join(sorted(set(values))))
    return as_strings(plain_groups(joined))  # a categorical's aggregate keeps its dtype where it can


def quadrant_summary(reason_rows: pd.DataFrame) -> pd.DataFrame:
    total = max(int(reason_rows["contacts"].sum()), 1)
    rows = []
    for quadrant in QUADRANT_ORDER:
        members = reason_rows[reason_rows["quadrant"] == quadrant]
        rows.append(
            {
                "quadrant": quadrant,
                "action": members["action"].iloc[0] if len(members) else "",
                "reasons": len(members),
                "contacts": int(members["contacts"].sum()),
                "share": round(members["contacts"].sum() / total, 4),
                "estimated_cost": members["estimated_cost"].sum(),
                "annual_cost": members["annual_cost"].sum(),
                "annual_prize": members["annual_prize"].sum(),
                "top_reasons": _top_reasons(members),
            }
        )
    return pd.DataFrame(rows)


def root_cause_summary(in_window: pd.DataFrame, window: Window, reasons: pd.DataFrame) -> pd.DataFrame:
    day = window.rows(in_window, [window.as_of_text])
    in_history = in_window[s.CONTACT_DATE].isin(window.history_dates)  # counted, not copied
    days_with_data = max(in_window.loc[in_history, s.CONTACT_DATE].nunique(), 1)
    today = plain_groups(day.groupby(s.ROOT_CAUSE, observed=True).size())
    causes_before = in_window.loc[in_history, s.ROOT_CAUSE]
    baseline = plain_groups(causes_before.groupby(causes_before, observed=True).size()) / days_with_data
    owners = reasons.drop_duplicates("default_root_cause").set_index("default_root_cause")["owner"]
    causes = today.index.union(baseline.index)
    names = reasons.set_index("reason")[["name_en"]]
    rows = []
    for cause in causes:
        contacts = int(today.get(cause, 0))
        mean = float(baseline.get(cause, 0.0))
        members = plain_groups(day[day[s.ROOT_CAUSE] == cause].groupby(s.REASON, observed=True).size()).sort_values(ascending=False).head(3)
        rows.append(
            {
                "root_cause": cause,
                "owner": owners.get(cause, ""),
                "contacts": contacts,
                "share": round(contacts / max(len(day), 1), 4),
                "baseline_daily_mean": round(mean, 2),
                "change_pct": round((contacts - mean) / mean * 100, 1) if mean > 0 else None,
                "top_reasons": "; ".join(f"{names['name_en'].get(r, r)} ({n})" for r, n in members.items()),
            }
        )
    columns = ["root_cause", "owner", "contacts", "share", "baseline_daily_mean", "change_pct", "top_reasons"]
    return pd.DataFrame(rows, columns=columns).sort_values("contacts", ascending=False, kind="mergesort").reset_index(drop=True)


def trend_table(in_window: pd.DataFrame, window: Window, reasons: pd.DataFrame, denominator: pd.DataFrame | None = None) -> pd.DataFrame:
    dates = [*window.history_dates, window.as_of_text]
    counts = plain_groups(in_window.groupby([s.CONTACT_DATE, s.REASON], observed=True).size()).unstack(fill_value=0).reindex(dates, fill_value=0)
    long = counts.stack().rename("contacts").reset_index().rename(columns={s.CONTACT_DATE: "date"})
    names = reasons.set_index("reason")
    long.insert(2, "name_zh", long[s.REASON].map(names["name_zh"]).fillna(long[s.REASON]))
    long.insert(3, "name_en", long[s.REASON].map(names["name_en"]).fillna(long[s.REASON]))
    if denominator is not None:
        long["contacts_per_1000"] = daily_per_thousand(long, denominator)
    return long.sort_values(["date", s.REASON], kind="mergesort").reset_index(drop=True)


def review_rows(day: pd.DataFrame, size: int) -> pd.Index:
    """The ``size`` least confident rows of the day (unknown ones are below the threshold), in
    that order."""
    # the order of the confidences alone (stable, missing ones last, as sort_values): sorting
    # the whole day would copy every column of it
    return day.index[np.argsort(day[s.CONFIDENCE].to_numpy(dtype=float), kind="stable")[:size]]


def review_queue(
    day: pd.DataFrame, size: int, order_patterns: list[str], texts: Callable[[pd.Index], pd.Series] | None = None
) -> pd.DataFrame:
    """Contacts a person should look at: unknown first, then the least confident."""
    ranked = plain_labels(day.loc[review_rows(day, size)])
    text = texts(ranked.index) if texts is not None else ranked[s.TEXT]
    why = [
        f"not recognised: confidence {c:.2f} below the model's threshold" if r == UNKNOWN_REASON else f"low confidence {c:.2f}"
        for r, c in zip(ranked[s.REASON], ranked[s.CONFIDENCE])
    ]
    return pd.DataFrame(
        {
            s.CONTACT_ID: ranked[s.CONTACT_ID],
            s.CONTACT_DATE: ranked[s.CONTACT_DATE],
            "channel": ranked[s.CHANNEL] if s.CHANNEL in ranked else "",
            "text_masked": mask_pii_series(text, tuple(order_patterns)).str.slice(0, 2000),
            "predicted_reason": ranked[s.REASON],
            "top_candidate": ranked[CANDIDATE],
            s.CONFIDENCE: pd.to_numeric(ranked[s.CONFIDENCE]).round(4),
            "why": why,
            "correct_reason": "",
            "reviewer": "",
            "comment": "",
        }
    ).reset_index(drop=True)


TREND_CHARTS = 6
TREND_LINE, TREND_BAND, SPIKE_RED = "#8e44ad", "#e8daef", "#c0392b"


def trend_chart(series: pd.Series, title: str, today_text: str, spike: bool, width: int = 250, height: int = 110) -> str:
    """One small inline SVG: daily contacts over the baseline window and the run day (last point),
    the baseline mean with a band of ±2√mean (the Poisson spread of a steady count), the run day
    marked — red when it is a tested spike."""
    counts = series.to_numpy(dtype=float)
    history = counts[:-1]
    mean = float(history.mean()) if len(history) else 0.0
    low, high = max(mean - 2 * math.sqrt(mean), 0.0), mean + 2 * math.sqrt(mean)
    top = max(float(counts.max()) if len(counts) else 0.0, high, 1.0) * 1.1
    left, right, upper, lower = 6, width - 8, 30, height - 6

    def x(i: int) -> float:
        return left + (right - left) * i / max(len(counts) - 1, 1)

    def y(value: float) -> float:
        return lower - (lower - upper) * value / top

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(counts))
    last_x, last_y = x(len(counts) - 1), y(counts[-1]) if len(counts) else lower
    marker = SPIKE_RED if spike else TREND_LINE
    shown = title if len(title) <= 38 else title[:37] + "…"
    return (
        f'<svg class="trend" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{html.escape(title)}: {html.escape(today_text)}</title>"
        f'<text x="{left}" y="12" font-size="10" font-weight="bold">{html.escape(shown)}</text>'
        f'<text x="{left}" y="25" font-size="10" fill="#555">{html.escape(today_text)}</text>'
        f'<rect class="band" x="{left}" y="{y(high):.1f}" width="{right - left}" height="{y(low) - y(high):.1f}" fill="{TREND_BAND}"/>'
        f'<line x1="{left}" y1="{y(mean):.1f}" x2="{right}" y2="{y(mean):.1f}" stroke="#999" stroke-dasharray="3"/>'
        f'<line x1="{left}" y1="{lower}" x2="{right}" y2="{lower}" stroke="#ccc"/>'
        f'<polyline points="{points}" fill="none" stroke="{TREND_LINE}" stroke-width="1.6"/>'
        f'<circle class="{"flagged" if spike else "today"}" cx="{last_x:.1f}" cy="{last_y:.1f}" r="4" fill="{marker}"/>'
        "</svg>"
    )


def trend_charts(hotspots: pd.DataFrame, trend: pd.DataFrame, count: int = TREND_CHARTS) -> str:
    """Small multiples: one trend chart per top reason-level hotspot, in rank order."""
    top = hotspots[hotspots["segment"] == ""].head(count)
    daily = trend.pivot_table(index="date", columns=s.REASON, values="contacts", aggfunc="sum").sort_index()
    charts = []
    for row in top.itertuples(index=False):
        if row.reason not in daily.columns:
            continue
        change = f", {row.change_pct:+.0f}%" if pd.notna(row.change_pct) else ""
        today = f"today {row.contacts} · baseline {row.baseline:.1f}{change}{' · spike' if row.spike else ''}"
        charts.append(trend_chart(daily[row.reason].fillna(0), f"{row.rank}. {row.name_zh} {row.name_en}", today, bool(row.spike)))
    return "".join(charts)


def render_html(tables: dict[str, pd.DataFrame], as_of: date, cutoff: float = 3) -> str:
    """A static page: the value–irritant matrix as inline SVG and the top hotspots. No CDN."""
    hotspots = tables["hotspots"]
    reasons = hotspots[(hotspots["segment"] == "") & hotspots["quadrant"].isin(QUADRANT_ORDER[:4])]
    size, margin = 560, 50
    span = size - 2 * margin

    def position(value: float) -> float:  # values 1–5 on a 0.5–5.5 axis
        return margin + (value - 0.5) / 5 * span

    largest = max(int(reasons["contacts"].max()) if len(reasons) else 1, 1)
    cells = reasons.groupby([reasons["customer_value"].fillna(3), reasons["company_value"].fillna(3)])
    bubbles = []
    for (customer, company), members in cells:
        for index, row in enumerate(members.itertuples()):
            angle = 2 * math.pi * index / len(members)
            spread = 0 if len(members) == 1 else 18 + 8 * len(members)
            x = position(float(customer)) + spread * math.cos(angle)
            y = size - position(float(company)) + spread * math.sin(angle)
            radius = 5 + 26 * (row.contacts / largest) ** 0.5
            colour = "#c0392b" if row.spike else ("#e67e22" if (row.change_pct or 0) > 15 else "#2e86c1")
            bubbles.append(
                f'<circle class="bubble" cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{colour}" fill-opacity="0.6">'
                f"<title>{html.escape(str(row.name_en))}: {row.contacts} contacts, change {row.change_pct:+.0f}%</title></circle>"
                f'<text x="{x:.1f}" y="{y + 3:.1f}" font-size="9" text-anchor="middle">{html.escape(str(row.name_zh))}</text>'
            )
    divider = position(cutoff - 0.5)
    low, high = margin + 8, divider + 8
    quadrant_labels = (
        f'<text x="{high}" y="{margin - 8}">leverage 利用</text><text x="{low}" y="{margin - 8}">simplify 简化</text>'
        f'<text x="{high}" y="{size - margin + 18}">automate 自助</text><text x="{low}" y="{size - margin + 18}">eliminate 消除</text>'
    )
    legend = (
        '<p class="legend"><span style="color:#c0392b">● spike</span> · <span style="color:#e67e22">● up more '
        'than 15 %</span> · <span style="color:#2e86c1">● steady</span> · bubble area = contacts today</p>'
    )
    svg = (
        f'<svg id="matrix" width="{size}" height="{size + 20}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="{margin}" y="{margin}" width="{span}" height="{span}" fill="none" stroke="#333"/>'
        f'<line x1="{divider}" y1="{margin}" x2="{divider}" y2="{size - margin}" stroke="#999" stroke-dasharray="4"/>'
        f'<line x1="{margin}" y1="{size - divider}" x2="{size - margin}" y2="{size - divider}" stroke="#999" stroke-dasharray="4"/>'
        f"{quadrant_labels}"
        f'<text x="{size / 2}" y="{size + 12}" text-anchor="middle">value to customer →</text>'
        f'<text x="14" y="{size / 2}" transform="rotate(-90 14 {size / 2})" text-anchor="middle">value to company →</text>'
        + "".join(bubbles)
        + "</svg>"
        + legend
    )
    top = hotspots.head(10)[["rank", "name_zh", "name_en", "predicted_by", "segment", "quadrant", "contacts", "baseline", "change_pct", "spike", "top_phrases"]]
    table = top.to_html(index=False, escape=True, float_format=lambda v: f"{v:.1f}", border=0, classes="hotspots")
    quadrants = tables["quadrants"].to_html(index=False, escape=True, float_format=lambda v: f"{v:,.2f}", border=0)
    by_rules = hotspots[hotspots["predicted_by"].astype(str).str.contains("rules")] if "predicted_by" in hotspots else hotspots.iloc[:0]
    rules_note = (
        f'<p class="rules-note"><b>Cold start:</b> {len(by_rules)} reason rows come from the taxonomy\'s keyword rules '
        "(<code>predicted_by = rules</code>), not from a trained model; train one from reviewed labels to replace them.</p>"
        if len(by_rules) else ""
    )
    return (
        "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
        f"<title>Contact reasons {as_of}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}"
        "</style></head><body>"
        f"<h1>Contact reasons — {as_of}</h1>{rules_note}<h2>Value–irritant matrix</h2>"
        f'<div style="display:flex;gap:24px;align-items:flex-start"><div>{svg}</div>'
        '<div><h3 style="margin-top:0">Trends of the top hotspots</h3>'
        '<p class="legend">daily contacts; shaded: baseline mean ±2√mean; dot: today (red = spike)</p>'
        f'<div style="display:grid;grid-template-columns:repeat(2,250px);gap:8px">{trend_charts(hotspots, tables["trend"])}</div></div></div>'

        f"<h2>Top hotspots</h2>{table}<h2>Quadrants</h2>{quadrants}</body></html>"
    )


def write_report(report: Report, out: Path, manifest: dict, rejects: pd.DataFrame, *, whole_folder: bool = False) -> Path:
    """Write every file, the manifest last so that its presence means the report is complete.

    ``whole_folder`` is for a folder the pipeline owns (the nightly run's ``reports/<date>/``):
    it is built beside and swapped in whole, so a crash never leaves two runs' files mixed.
    A folder a person names (``report --out``) may hold anything, so there the files are
    replaced one by one, never the folder.
    """
    out = Path(out)
    if whole_folder:
        with staged_folder(out) as staging:
            _write_files(report, staging, manifest, rejects)
    else:
        out.mkdir(parents=True, exist_ok=True)
        (out / "run_manifest.json").unlink(missing_ok=True)
        _write_files(report, out, manifest, rejects)
    log.info("report - %s written to %s", report.as_of, out)
    return out



def _write_files(report: Report, folder: Path, manifest: dict, rejects: pd.DataFrame) -> None:
    for name, table in report.tables.items():
        write_csv(table, folder / f"{name}.csv")
    write_csv(rejects.reindex(columns=list(s.REJECT_COLUMNS)), folder / "rejects.csv")
    write_text(report.html, folder / "report.html")
    write_json(manifest, folder / "run_manifest.json")
