"""The demo end to end in a temporary folder, through the CLI, as `make demo` runs it."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.demo import DEMO_END, HOTSPOTS

REPORT_FILES = ["hotspots.csv", "quadrants.csv", "root_causes.csv", "trend.csv", "review_queue.csv", "self_service.csv",
                "new_reasons.csv", "rejects.csv", "report.html", "run_manifest.json"]
HOTSPOT_COLUMNS = ["reason", "name_zh", "name_en", "predicted_by", "quadrant", "action", "contacts", "share", "baseline",
                   "change_pct", "p_adjusted", "spike", "effort_rate", "repeat_rate", "transfer_rate",
                   "mean_handle_min", "estimated_cost", "top_phrases", "example_contact_ids"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    return out, out / "reports" / DEMO_END.isoformat()


def read(path):
    return pd.read_csv(path, encoding="utf-8-sig")


def test_every_report_file_is_written(demo):
    _, reports = demo
    assert sorted(p.name for p in reports.iterdir()) == sorted(REPORT_FILES)


def test_injected_hotspots_are_flagged_on_top_and_nothing_else(demo):
    _, reports = demo
    hotspots = read(reports / "hotspots.csv")
    reasons = hotspots[hotspots["segment"].isna()]
    injected = {h.reason for h in HOTSPOTS}
    flagged = set(reasons.loc[reasons["spike"], "reason"])
    assert injected <= set(reasons.head(3)["reason"])
    assert flagged == injected


def test_hotspots_csv_has_a_bom_and_the_design_columns(demo):
    _, reports = demo
    raw = (reports / "hotspots.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    hotspots = read(reports / "hotspots.csv")
    assert set(HOTSPOT_COLUMNS) <= set(hotspots.columns)
    assert hotspots["name_zh"].str.contains(r"[\u4e00-\u9fff]").any()


def test_manifest_accounts_for_every_row(demo):
    out, reports = demo
    manifest = json.loads((reports / "run_manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows_read"] == manifest["rows_scored"] + manifest["rows_rejected"]
    assert manifest["rows_read"] == len(pd.read_csv(next((out / "incoming").glob("*.csv")), encoding="utf-8-sig"))
    assert manifest["model"]["sha256"]


def test_no_pii_reaches_the_reports(demo):
    _, reports = demo
    for name in ("review_queue.csv", "hotspots.csv", "report.html"):
        text = (reports / name).read_text(encoding="utf-8-sig")
        assert not pd.Series([text]).str.contains(r"1[3-9]\d{9}|@[a-z0-9-]+\.(?:com|cn|net)|\d{17}[\dXx]").any(), name


def test_outage_top_phrases_name_the_outage(demo):
    _, reports = demo
    hotspots = read(reports / "hotspots.csv")
    outage = hotspots[hotspots["spike"] & hotspots["segment"].isna()].iloc[0]
    assert isinstance(outage["top_phrases"], str) and outage["top_phrases"]


def test_demo_classifier_is_good_but_not_perfect(demo):
    out, _ = demo
    metrics = json.loads(next((out / "models").rglob("training_metrics.json")).read_text())
    assert 0.85 <= metrics["accuracy"] < 0.995


def test_mlflow_run_is_in_the_demo_folder(demo):
    out, _ = demo
    assert (out / "mlflow" / "mlflow.db").exists()


def test_a_leverage_reason_showing_high_effort_is_flagged(demo):
    _, reports = demo
    hotspots = read(reports / "hotspots.csv").set_index("reason")
    install = hotspots.loc["broadband_install"]
    assert install["quadrant"] == "leverage" and install["observed_quadrant"] == "simplify"
    assert install["quadrant_flag"].startswith("configured leverage, data says simplify")


def test_eliminate_prize_is_given_in_currency(demo):
    _, reports = demo
    quadrants = read(reports / "quadrants.csv").set_index("quadrant")
    assert quadrants.loc["eliminate", "annual_prize"] > 0
    hotspots = read(reports / "hotspots.csv")
    assert set(hotspots["currency"]) == {"CNY"}


def test_report_html_renders_the_matrix_in_headless_chromium(demo, tmp_path):
    """A real browser draws the page: the matrix holds red spike bubbles and blue steady ones, and
    the trends of the top hotspots are drawn beside it with the spike days marked."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (make test installs it where it can)")
    from PIL import Image

    _, reports = demo
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1000", f"--screenshot={shot}",
         (reports / "report.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    image = Image.open(shot).convert("RGB")
    matrix = np.asarray(image.crop((60, 150, 620, 720))).astype(int)  # where the SVG sits on a 1200-wide page
    r, g, b = matrix[..., 0], matrix[..., 1], matrix[..., 2]
    red = int(((r > 190) & (g > 100) & (g < 150) & (b > 100) & (b < 150)).sum())  # #c0392b at 0.6 on white
    blue = int(((r < 150) & (g > 150) & (g < 200) & (b > 200)).sum())  # #2e86c1 at 0.6 on white
    assert red > 2000, red  # two spike bubbles
    assert blue > 5000, blue  # the steady reasons
    trends = np.asarray(image.crop((620, 150, 1190, 720))).astype(int)  # the small multiples beside it
    r, g, b = trends[..., 0], trends[..., 1], trends[..., 2]
    lines = int(((r > 110) & (r < 175) & (g > 40) & (g < 110) & (b > 140) & (b < 200)).sum())  # #8e44ad
    bands = int(((r > 220) & (r < 240) & (g > 205) & (g < 228) & (b > 230)).sum())  # #e8daef
    flagged = int(((r > 170) & (g < 90) & (b < 80)).sum())  # solid #c0392b dots on the spike days
    assert lines > 1500, lines  # six daily lines of 29 points
    assert bands > 10_000, bands
    assert flagged > 40, flagged  # the two spikes marked on their last day
