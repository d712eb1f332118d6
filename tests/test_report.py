from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipeline import schemas as s
from pipeline.quadrants import reason_table
from pipeline.report import build_report, review_queue, write_report
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
    assert set(report.tables) == {"hotspots", "quadrants", "root_causes", "trend", "review_queue", "self_service"}
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
