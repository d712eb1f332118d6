import sys
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline import schemas as s
from pipeline.quadrants import reason_table
from pipeline.report import (
    build_report,
    report_columns,
    render_html,
    review_queue,
    trend_chart,
    write_report,
)
from pipeline.store import StoredTexts, read_store
from pipeline.tokenize import Tokenizer

AS_OF = date(2026, 11, 20)


def scored_frame(taxonomy, days=35, seed=1):
    rng = np.random.default_rng(seed)
    ids = [r.id for r in taxonomy.reasons]
    rows = []
    for back in range(days):
        day = (AS_OF - timedelta(days=back)).isoformat()
        for i in range(60):
            reason = ids[rng.integers(len(ids))]
            rows.append({
                s.CONTACT_ID: f"{day}-{i}", s.CONTACT_DATE: day, s.REASON: reason, "reason_candidate": reason,
                s.CONFIDENCE: float(rng.uniform(0.2, 1)), s.ROOT_CAUSE: taxonomy.reason(reason).root_cause,
                s.TEXT: "客户：我的手机号13812345678，电话打不通 =cmd", s.EFFORT_SCORE: 1,
                "effort_repeat_contact": False, "effort_transfer": False, s.HANDLE_TIME_S: 240.0, s.CHANNEL: "phone",
            })
    return pd.DataFrame(rows)


def test_report_tables_and_files(tmp_path, taxonomy, config):
    scored = scored_frame(taxonomy)
    report = build_report(scored, AS_OF, reason_table(taxonomy), config, Tokenizer())
    assert set(report.tables) == {"hotspots", "quadrants", "root_causes", "trend", "review_queue", "self_service", "new_reasons"}
    assert report.tables["hotspots"]["contacts"].sum() == 60
    assert report.tables["trend"]["contacts"].sum() == 60 * 29  # 28 baseline days + the day itself
    assert report.tables["quadrants"]["share"].sum() == 1.0
    assert "<svg" in report.html and report.html.count('class="bubble"') >= 10
    (tmp_path / "someone's work").mkdir()  # `report --out` names any folder: it is written into, never replaced
    out = write_report(report, tmp_path, {"as_of": str(AS_OF)}, pd.DataFrame())
    queue = (out / "review_queue.csv").read_text(encoding="utf-8-sig")
    assert "13812345678" not in queue and "'=cmd" not in queue  # masked; the formula is mid-text
    assert (out / "run_manifest.json").exists() and (tmp_path / "someone's work").is_dir()


def test_review_queue_puts_unknown_first_and_says_why():
    day = pd.DataFrame({
        s.CONTACT_ID: ["a", "b", "c"], s.CONTACT_DATE: ["2026-11-20"] * 3, s.CHANNEL: ["chat"] * 3,
        s.TEXT: ["=SUM(1)", "x", "y"], s.REASON: ["billing_dispute", "unknown", "top_up"],
        "reason_candidate": ["billing_dispute", "top_up", "top_up"], s.CONFIDENCE: [0.9, 0.2, 0.5],
    })
    queue = review_queue(day, 2, [])
    assert queue[s.CONTACT_ID].tolist() == ["b", "c"]
    assert queue["why"].tolist() == ["not recognised: confidence 0.20 below the model's threshold", "low confidence 0.50"]


def test_contacts_per_thousand_customers_when_a_denominator_is_given(taxonomy, config):
    scored = scored_frame(taxonomy)
    days = sorted(scored[s.CONTACT_DATE].unique())
    customers = pd.DataFrame({"date": days, "count": 20_000.0})
    report = build_report(scored, AS_OF, reason_table(taxonomy), config, Tokenizer(), customers)
    hotspots, trend = report.tables["hotspots"], report.tables["trend"]
    columns = list(hotspots.columns)
    assert columns[columns.index("contacts") + 1] == "contacts_per_1000"
    assert (hotspots["contacts_per_1000"] == (hotspots["contacts"] / 20).round(3)).all()
    assert (trend["contacts_per_1000"] == (trend["contacts"] / 20).round(3)).all()
    plain = build_report(scored, AS_OF, reason_table(taxonomy), config, Tokenizer())
    assert "contacts_per_1000" not in plain.tables["hotspots"] and "contacts_per_1000" not in plain.tables["trend"]


def test_report_html_draws_a_trend_for_each_top_hotspot(taxonomy, config):
    scored = scored_frame(taxonomy)
    spiking = taxonomy.reasons[0].id
    burst = scored[scored[s.CONTACT_DATE] == AS_OF.isoformat()].head(1)
    burst = pd.concat([burst.assign(**{s.REASON: spiking})] * 40, ignore_index=True)
    burst[s.CONTACT_ID] = [f"burst{i}" for i in range(len(burst))]
    report = build_report(pd.concat([scored, burst], ignore_index=True), AS_OF, reason_table(taxonomy), config, Tokenizer())
    page = report.html
    assert page.count('<svg class="trend"') == 6
    assert page.count('class="flagged"') == 1  # the one tested spike, marked on its last day
    first = page.split('<svg class="trend"')[1]
    assert f"1. {taxonomy.reasons[0].name_zh}" in first and "spike" in first
    points = first.split('points="')[1].split('"')[0].split()
    assert len(points) == config.hotspots.baseline_days + 1  # the baseline window and the run day
    # without the trend rows there is nothing to draw, and the page still renders
    empty = {**report.tables, "trend": report.tables["trend"].iloc[0:0]}
    assert '<svg class="trend"' not in render_html(empty, AS_OF)


def test_trend_chart_puts_the_band_around_the_baseline_mean():
    chart = trend_chart(pd.Series([16.0] * 28 + [40.0]), "x", "today 40", spike=True, height=110)
    band = chart.split('class="band"')[1]
    y = float(band.split('y="')[1].split('"')[0])
    height = float(band.split('height="')[1].split('"')[0])
    mean_line = float(chart.split("<line ")[1].split('y1="')[1].split('"')[0])
    assert y < mean_line < y + height  # 16 ± 8, drawn around the dashed mean
    assert mean_line - y == pytest.approx(y + height - mean_line, abs=0.2)
    assert 'class="flagged"' in chart and 'fill="#c0392b"' in chart


def test_a_report_without_texts_fetches_them_once_and_reads_the_same(taxonomy, config):
    scored = scored_frame(taxonomy)
    scored[s.TEXT] = [f"客户：{r} 第{i % 7}次来电，{'宽带' if i % 2 else '账单'}问题\n坐席：好的" for i, r in enumerate(scored[s.REASON])]
    scored.loc[scored.index % 9 == 0, s.CONFIDENCE] = 0.01
    scored.loc[scored.index % 9 == 0, s.REASON] = "unknown"
    fetched = []

    def texts(index: pd.Index) -> pd.Series:
        fetched.append(len(index))
        return scored.loc[index, s.TEXT]

    full = build_report(scored, AS_OF, reason_table(taxonomy), config, Tokenizer())
    lean = build_report(scored.drop(columns=[s.TEXT]), AS_OF, reason_table(taxonomy), config, Tokenizer(), texts=texts)
    assert len(fetched) == 1 and 0 < fetched[0] < len(scored)  # one pass over the store, only rows the report reads
    for name, table in full.tables.items():
        pd.testing.assert_frame_equal(lean.tables[name], table, obj=name)


def write_window(store, taxonomy):
    """A store of ``scored_frame``'s window, one file a day, with what makes categoricals read
    unlike strings: categories in each file's order of first appearance (not sorted), labels
    missing on some rows, reasons absent on some days, rule-decided rows and the day's unknowns."""
    scored = scored_frame(taxonomy)
    rng = np.random.default_rng(5)
    scored[s.CHANNEL] = rng.choice(np.array(["phone", "chat", "email", None], dtype=object), len(scored))
    scored[s.PREDICTED_BY] = rng.choice(np.array(["model", "rules", None], dtype=object), len(scored))
    scored[s.TEXT] = [f"客户：{r} 第{i % 7}次来电，{'宽带' if i % 2 else '账单'}问题\n坐席：好的" for i, r in enumerate(scored[s.REASON])]
    rare = taxonomy.reasons[-1].id
    scored.loc[(scored[s.REASON] == rare) & (scored.index % 2 == 0), s.REASON] = taxonomy.reasons[0].id
    unknown = (scored.index % 3 == 0) & (scored[s.CONTACT_DATE] == AS_OF.isoformat())
    scored.loc[unknown, s.REASON], scored.loc[unknown, s.CONFIDENCE] = "unknown", 0.05
    topics = ["国际漫游 出国 开通 漫游 套餐", "电子发票 抬头 开具 发票 邮箱"]  # two new reasons to propose
    scored.loc[unknown, s.TEXT] = [f"客户：{topics[i % 2]} 第{i % 3}次\n坐席：好的" for i in range(unknown.sum())]
    for day, rows in scored.groupby(s.CONTACT_DATE):
        (store / f"contact_date={day}").mkdir(parents=True)
        rows.drop(columns=[s.CONTACT_DATE]).to_parquet(store / f"contact_date={day}" / "batch=1.parquet", index=False)
    return scored


@pytest.mark.parametrize("segments", [[], [s.CHANNEL]])
def test_a_report_reads_the_same_from_label_categories(tmp_path, taxonomy, config, segments):
    config = config.model_copy(update={"hotspots": config.hotspots.model_copy(update={"segments": segments})})
    scored = write_window(tmp_path, taxonomy)
    customers = pd.DataFrame({"date": sorted(scored[s.CONTACT_DATE].unique()), "count": 20_000.0})
    plain = read_store(tmp_path, columns=report_columns(config), arrow_ids=True)
    coded = read_store(tmp_path, columns=report_columns(config), arrow_ids=True, label_categories=True)
    labels = [s.REASON, "reason_candidate", s.ROOT_CAUSE, s.CHANNEL, s.PREDICTED_BY, s.CONTACT_DATE]
    assert all(isinstance(coded[name].dtype, pd.CategoricalDtype) for name in labels)
    assert list(coded[s.REASON].cat.categories) != sorted(coded[s.REASON].cat.categories)  # sorting by code would show

    reports = [
        build_report(frame, AS_OF, reason_table(taxonomy), config, Tokenizer(), customers, StoredTexts(tmp_path))
        for frame in (plain, coded)
    ]

    expected, actual = reports
    assert len(expected.tables["new_reasons"]) > 0 and (expected.tables["hotspots"]["predicted_by"] == "model+rules").any()
    assert (expected.tables["hotspots"]["segment"] != "").any() == bool(segments)
    assert list(actual.tables) == list(expected.tables)
    for name, table in expected.tables.items():
        pd.testing.assert_frame_equal(actual.tables[name], table, obj=name)
    assert actual.html == expected.html


def test_a_large_sample_is_tokenized_in_two_processes_as_in_one(config, monkeypatch):
    import pipeline.report
    from pipeline.report import sample_tokens

    tokenizer = Tokenizer(user_words=("携号转网",))
    texts = pd.Series(
        [f"客户：我想携号转网，第{i}次來電，賬單還是不對 call me at 13812345678\n坐席：好的" for i in range(12)],
        index=range(100, 112),
    )
    alone = sample_tokens(texts, config.model_copy(update={"runtime": config.runtime.model_copy(update={"workers": 1})}), tokenizer)
    monkeypatch.setattr(pipeline.report, "SPLIT_TOKENS_FROM", 4)
    shared = sample_tokens(texts, config.model_copy(update={"runtime": config.runtime.model_copy(update={"workers": 2})}), tokenizer)
    assert shared.index.tolist() == list(range(100, 112))
    assert shared.tolist() == alone.tolist()
    assert "携号转网" in alone.iloc[0] and "账单" in alone.iloc[11]  # the user word and the simplified text, in both halves
    assert all(token is sys.intern(token) for tokens in shared for token in tokens)
