"""PII on a generated corpus: every format is masked, prices and dates are not, and the nightly
job writes no personal data to its reports, its store or its log."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter

import pandas as pd
import pytest

from pipeline.config import NormalizeSettings
from pipeline.demo import DEMO_END
from pipeline.jobs import Workspace, run_job
from pipeline.modelstore import save_model
from pipeline.pii import mask_pii

from .pii_corpus import LANGUAGES, Item, keep_items, pii_items

ORDER = tuple(NormalizeSettings().order_number_patterns)  # the shipped default
PII = pii_items()
KEEP = keep_items()

_SEPARATORS_RE = re.compile(r"[\s\-‐－()（）+＋]")
_DECIMAL_RE = re.compile(r"\d+\.\d+(?:[eE][-+]?\d+)?")  # confidences, shares: not identifiers
_MIN_DIGITS = 6  # shorter digit runs (an e-mail's "88") identify no one


def _bare_digits(value: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", value))


def leaked(text: str, items: list[Item]) -> list[str]:
    """Values of ``items`` found in ``text``: as written, half-width, or as bare digits with
    the separators of ``text`` removed (``138 1234 5678`` written as ``13812345678``)."""
    collapsed = _SEPARATORS_RE.sub("", _DECIMAL_RE.sub("|", text))
    found = []
    for item in items:
        digits = _bare_digits(item.value)
        if (
            item.value in text
            or unicodedata.normalize("NFKC", item.value) in text
            or (len(digits) >= _MIN_DIGITS and digits in collapsed)
        ):
            found.append(item.value)
    return found


def test_corpora_cover_every_format_in_every_language() -> None:
    assert len(PII) >= 200 and len(KEEP) >= 200
    pii_kinds = {
        "mainland_mobile", "mainland_landline", "hk_phone", "hk_local_phone", "tw_mobile", "tw_landline",
        "email", "prc_id", "hk_id", "tw_id", "card", "order",
    }
    assert {(item.kind, item.language) for item in PII} == {(kind, language) for kind in pii_kinds for language in LANGUAGES}
    assert {item.kind for item in KEEP} == {"price", "date", "time", "quantity", "plan"}
    assert any(item.value.upper().endswith("X") for item in PII if item.kind == "prc_id")
    assert all(re.fullmatch(ORDER[0], item.value) for item in PII if item.kind == "order")
    assert len({item.value for item in PII}) == len(PII)


@pytest.mark.parametrize("kind", sorted({item.kind for item in PII}))
def test_mask_pii_leaves_no_trace_of_any_format(kind: str) -> None:
    survivors = [
        (item.sentence, masked)
        for item in PII
        if item.kind == kind and leaked(masked := mask_pii(item.sentence, ORDER), [item])
    ]
    assert survivors == []


def test_mask_pii_leaves_prices_dates_times_quantities_and_plans_alone() -> None:
    altered = [item for item in KEEP if item.value not in mask_pii(item.sentence, ORDER)]
    assert len(altered) / len(KEEP) < 0.02, Counter(item.kind for item in altered)


# ---------------------------------------------------------------------------------------------
# End to end: the nightly run on a day holding the corpus, after 28 ordinary days
# ---------------------------------------------------------------------------------------------

BACKGROUND_PER_DAY = 40


def nightly_input(demo_contacts: pd.DataFrame, baseline_days: int) -> pd.DataFrame:
    """Demo contacts of the baseline days (a sample of each day), then the corpus on DEMO_END."""
    first = (pd.Timestamp(DEMO_END) - pd.Timedelta(days=baseline_days)).date().isoformat()
    day = demo_contacts["started_at"].str.slice(0, 10)
    background = demo_contacts[(day >= first) & (day < DEMO_END.isoformat())]
    background = background.groupby(day, sort=True).head(BACKGROUND_PER_DAY)
    corpus = pd.DataFrame(
        {
            "contact_id": [f"PII{index:04d}" for index in range(len(PII))],
            "started_at": [f"{DEMO_END.isoformat()}T{8 + index % 12:02d}:{index % 60:02d}:00+08:00" for index in range(len(PII))],
            "channel": [("phone", "chat", "email", "app")[index % 4] for index in range(len(PII))],
            "text": [item.sentence for item in PII],
        }
    )
    return pd.concat([background, corpus], ignore_index=True)


def test_nightly_run_writes_no_personal_data(tmp_path, caplog, config, demo_data, trained) -> None:
    config = config.model_copy(update={"hotspots": config.hotspots.model_copy(update={"review_queue_size": 1000})})
    source = tmp_path / "incoming" / f"{DEMO_END.isoformat()}.csv"
    source.parent.mkdir()
    nightly_input(demo_data.contacts, config.hotspots.baseline_days).to_csv(source, index=False)
    model_dir = save_model(
        trained.model, tmp_path / "model", {"name": "m", "version": "1", "unknown_threshold": 0.35, "labels": list(trained.model.classes_)}
    )
    workspace = Workspace(config, tmp_path)
    caplog.set_level(logging.DEBUG)

    outcome = run_job(workspace, DEMO_END, source=source, model_dir=model_dir)

    # the corpus reached the reports: every PII contact is in the review queue, masked
    queue = pd.read_csv(outcome.reports / "review_queue.csv", encoding="utf-8-sig")
    assert set(queue["contact_id"]) >= {f"PII{index:04d}" for index in range(len(PII))}
    assert all(queue["text_masked"].str.contains(re.escape(label)).any() for label in ("[PHONE]", "[EMAIL]", "[ID]", "[CARD]", "[ORDER]"))
    report_files = sorted(path for path in outcome.reports.iterdir() if path.is_file())
    assert {path.name for path in report_files} >= {"review_queue.csv", "hotspots.csv", "report.html", "run_manifest.json"}
    for path in report_files:
        assert leaked(path.read_text(encoding="utf-8-sig"), PII) == [], path.name

    stored = sorted(workspace.path(config.paths.store).rglob("*.parquet"))
    assert len(stored) == config.hotspots.baseline_days + 1
    for path in stored:
        frame = pd.read_parquet(path)
        assert leaked("\n".join(map(str, frame.to_numpy().ravel())), PII) == [], path.name

    assert "run - " in caplog.text
    assert leaked(caplog.text, PII) == []
