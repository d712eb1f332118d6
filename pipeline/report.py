"""Report: the files a manager opens in the morning (DESIGN §5), built from scored contacts.

``build_report`` is pure (frames in, frames and HTML out); ``write_report`` is the edge.
"""

from __future__ import annotations

import html
import logging
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from pipeline import schemas as s
from pipeline.config import UNKNOWN_REASON, PipelineConfig
from pipeline.hotspots import Window, explain_hotspots, find_hotspots
from pipeline.io import write_csv, write_json, write_text
from pipeline.normalize import prepare_texts
from pipeline.pii import mask_pii_series
from pipeline.predict import CANDIDATE
from pipeline.selfservice import self_service_candidates
from pipeline.tokenize import Tokenizer

log = logging.getLogger(__name__)

HOTSPOT_COLUMNS = [
    "rank", "reason", "segment", "name_zh", "name_en", "quadrant", "observed_quadrant", "quadrant_flag",
    "customer_value", "company_value", "action", "contacts", "share",
    "baseline", "change_pct", "p_value", "p_adjusted", "spike", "effort_rate", "repeat_rate",
    "transfer_rate", "observed_effort_rate", "mean_handle_min", "estimated_cost", "annual_cost", "annual_prize", "currency",
    "default_root_cause", "owner", "top_phrases", "example_contact_ids",
]
QUADRANT_ORDER = ["eliminate", "automate", "simplify", "leverage", "unassigned"]


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
    counts: dict[tuple[str, ...], pd.DataFrame] | None = None,
) -> Report:
    """``counts``: the window's daily contact counts when an engine has them (see find_hotspots)."""
    settings = config.hotspots
    window = Window(as_of, settings.baseline_days)
    in_window = scored[scored[s.CONTACT_DATE].isin([*window.history_dates, window.as_of_text])]
    hotspots = find_hotspots(in_window, as_of, reasons, settings, config.effort, config.cost, counts)
    prepared = prepare_texts(in_window[s.TEXT], view=config.normalize.view, to_simplified=config.normalize.to_simplified)
    tokens = pd.Series([tokenizer(text) for text in prepared], index=in_window.index, dtype=object)
    hotspots = explain_hotspots(hotspots, in_window, tokens, as_of, settings)
    day = in_window[in_window[s.CONTACT_DATE] == window.as_of_text]
    reason_rows = hotspots[hotspots["segment"] == ""]
    tables = {
        "hotspots": readable(hotspots[HOTSPOT_COLUMNS]),
        "quadrants": quadrant_summary(reason_rows),
        "root_causes": root_cause_summary(in_window, window, reasons),
        "trend": trend_table(in_window, window, reasons),
        "self_service": self_service_candidates(in_window, hotspots[hotspots["segment"] == ""], config.model.seed),
        "review_queue": review_queue(day, settings.review_queue_size, config.normalize.order_number_patterns),
    }
    return Report(as_of, tables, render_html(tables, as_of, config.quadrant_cutoff))


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
    day = in_window[in_window[s.CONTACT_DATE] == window.as_of_text]
    history = in_window[in_window[s.CONTACT_DATE].isin(window.history_dates)]
    days_with_data = max(history[s.CONTACT_DATE].nunique(), 1)
    today = day.groupby(s.ROOT_CAUSE).size()
    baseline = history.groupby(s.ROOT_CAUSE).size() / days_with_data
    owners = reasons.drop_duplicates("default_root_cause").set_index("default_root_cause")["owner"]
    causes = today.index.union(baseline.index)
    names = reasons.set_index("reason")[["name_en"]]
    rows = []
    for cause in causes:
        contacts = int(today.get(cause, 0))
        mean = float(baseline.get(cause, 0.0))
        members = day[day[s.ROOT_CAUSE] == cause].groupby(s.REASON).size().sort_values(ascending=False).head(3)
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
    return pd.DataFrame(rows).sort_values("contacts", ascending=False, kind="mergesort").reset_index(drop=True)


def trend_table(in_window: pd.DataFrame, window: Window, reasons: pd.DataFrame) -> pd.DataFrame:
    dates = [*window.history_dates, window.as_of_text]
    counts = in_window.groupby([s.CONTACT_DATE, s.REASON]).size().unstack(fill_value=0).reindex(dates, fill_value=0)
    long = counts.stack().rename("contacts").reset_index().rename(columns={s.CONTACT_DATE: "date"})
    names = reasons.set_index("reason")
    long.insert(2, "name_zh", long[s.REASON].map(names["name_zh"]).fillna(long[s.REASON]))
    long.insert(3, "name_en", long[s.REASON].map(names["name_en"]).fillna(long[s.REASON]))
    return long.sort_values(["date", s.REASON], kind="mergesort").reset_index(drop=True)


def review_queue(day: pd.DataFrame, size: int, order_patterns: list[str]) -> pd.DataFrame:
    """Contacts a person should look at: unknown first, then the least confident."""
    ranked = day.sort_values(s.CONFIDENCE, kind="mergesort").head(size)
    why = [
        f"not recognised: confidence {c:.2f} below the model's threshold" if r == UNKNOWN_REASON else f"low confidence {c:.2f}"
        for r, c in zip(ranked[s.REASON], ranked[s.CONFIDENCE])
    ]
    return pd.DataFrame(
        {
            s.CONTACT_ID: ranked[s.CONTACT_ID],
            s.CONTACT_DATE: ranked[s.CONTACT_DATE],
            "channel": ranked[s.CHANNEL] if s.CHANNEL in ranked else "",
            "text_masked": mask_pii_series(ranked[s.TEXT], tuple(order_patterns)).str.slice(0, 2000),
            "predicted_reason": ranked[s.REASON],
            "top_candidate": ranked[CANDIDATE],
            s.CONFIDENCE: ranked[s.CONFIDENCE].round(4),
            "why": why,
            "correct_reason": "",
        }
    ).reset_index(drop=True)


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
    top = hotspots.head(10)[["rank", "name_zh", "name_en", "segment", "quadrant", "contacts", "baseline", "change_pct", "spike", "top_phrases"]]
    table = top.to_html(index=False, escape=True, float_format=lambda v: f"{v:.1f}", border=0, classes="hotspots")
    quadrants = tables["quadrants"].to_html(index=False, escape=True, float_format=lambda v: f"{v:,.2f}", border=0)
    return (
        "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
        f"<title>Contact reasons {as_of}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}"
        "</style></head><body>"
        f"<h1>Contact reasons — {as_of}</h1><h2>Value–irritant matrix</h2>{svg}"
        f"<h2>Top hotspots</h2>{table}<h2>Quadrants</h2>{quadrants}</body></html>"
    )


def write_report(report: Report, out: Path, manifest: dict, rejects: pd.DataFrame) -> Path:
    """Write every file; the manifest goes last so its presence means the report is complete."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_manifest.json").unlink(missing_ok=True)
    for name, table in report.tables.items():
        write_csv(table, out / f"{name}.csv")
    write_csv(rejects.reindex(columns=list(s.REJECT_COLUMNS)), out / "rejects.csv")
    write_text(report.html, out / "report.html")
    write_json(manifest, out / "run_manifest.json")
    log.info("report - %s written to %s", report.as_of, out)
    return out

