import pandas as pd
import pytest
import yaml

from pipeline.cli import main
from pipeline.config import DEFAULT_CONFIG_DIR, ReviewSettings, Taxonomy
from pipeline.taxonomy_check import check_taxonomy


def reason(identifier, zh=("账单",), en=("bill",), name_zh="账单", name_en="Bill"):
    return {"id": identifier, "name_zh": name_zh, "name_en": name_en, "description": "d",
            "keywords": {"zh": list(zh), "en": list(en)}, "customer_value": 2, "company_value": 2, "root_cause": "rc"}


def taxonomy_of(reasons) -> Taxonomy:
    return Taxonomy.model_validate({"root_causes": [{"id": "rc", "name_zh": "原因", "name_en": "Cause", "owner": "Ops"}], "reasons": reasons})


def distinct(count):
    return [reason(f"r{i}", zh=(f"词{i}",), en=(f"word{i}",)) for i in range(count)]


def test_the_shipped_taxonomy_is_clean(capsys):
    assert main(["taxonomy", "check", "--quiet"]) == 0
    assert "taxonomy ok" in capsys.readouterr().out


@pytest.mark.parametrize("count, expected", [(3, "fewer than 10"), (61, "more than 60"), (12, None)])
def test_size_limits(config, count, expected):
    findings = [f for f in check_taxonomy(taxonomy_of(distinct(count)), config.normalize, ReviewSettings()) if f.startswith("size")]
    if expected is None:
        assert findings == []
    else:
        assert len(findings) == 1 and expected in findings[0]


def test_a_keyword_shared_across_scripts_and_case_is_an_overlap(config):
    reasons = distinct(10) + [reason("a", zh=("帳單",), en=("Refund",)), reason("b", zh=("账单",), en=("refund",))]
    findings = check_taxonomy(taxonomy_of(reasons), config.normalize, ReviewSettings())
    assert "overlap: keyword '账单' belongs to 2 reasons (a, b); keep it in one" in findings
    assert "overlap: keyword 'refund' belongs to 2 reasons (a, b); keep it in one" in findings
    assert len(findings) == 2


def test_missing_translations_and_keywords(config):
    reasons = distinct(10) + [reason("a", zh=(), name_en="账单问题"), reason("b", en=("x",), zh=("y",), name_zh="Bill")]
    findings = check_taxonomy(taxonomy_of(reasons), config.normalize, ReviewSettings())
    assert findings == [
        "translation: reason 'a' has no English name_en ('账单问题')",
        "translation: reason 'b' has no Chinese name_zh ('Bill')",
        "translation: reason 'a' has no zh keywords; cold start and explanations need both",
    ]


def test_labels_outside_the_taxonomy_and_thin_reasons(config):
    labels = pd.Series(["r0"] * 25 + ["r1"] * 3 + ["refunds"] * 4)
    findings = check_taxonomy(taxonomy_of(distinct(10)), config.normalize, ReviewSettings(), labels)
    assert "labels: 'refunds' (4 rows) is not a reason in the taxonomy; add it or relabel the rows" in findings
    assert any(f.startswith("examples: reason 'r1' has 3 labelled examples, fewer than 20") for f in findings)
    assert not any("'r0'" in f for f in findings)


def test_cli_exits_1_with_one_line_per_finding(tmp_path, capsys):
    shipped = yaml.safe_load((DEFAULT_CONFIG_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))
    shipped["reasons"][1]["keywords"]["zh"].append(shipped["reasons"][0]["keywords"]["zh"][0])
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")
    labelled = tmp_path / "labelled.csv"
    pd.DataFrame({"text": ["a", "b"], "reason": ["network_signal", "no_such_reason"]}).to_csv(labelled, index=False)
    assert main(["taxonomy", "check", "--taxonomy", str(path), "--data", str(labelled), "--quiet"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("overlap: keyword '信号' belongs to 2 reasons (network_signal, broadband_outage)")
    assert "labels: 'no_such_reason' (1 rows) is not a reason in the taxonomy; add it or relabel the rows" in out
    assert sum(line.startswith("examples:") for line in out) == 20
