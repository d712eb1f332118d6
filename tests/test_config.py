from pathlib import Path

import pytest
import yaml

from pipeline.config import (
    DEFAULT_CONFIG_DIR,
    PipelineConfig,
    load_config,
    load_taxonomy,
    resolve_under,
    tracking_uri,
)
from pipeline.errors import ConfigError


def test_shipped_config_loads_with_paths_beside_it():
    config = load_config()
    assert config.taxonomy == DEFAULT_CONFIG_DIR / "taxonomy.yaml"
    assert config.model.unknown_threshold == "auto"


def test_denominator_file_is_found_beside_the_config(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("hotspots:\n  denominator:\n    path: customers.csv\n    count_column: orders\n", encoding="utf-8")
    denominator = load_config(path).hotspots.denominator
    assert denominator.path == tmp_path.resolve() / "customers.csv" and denominator.count_column == "orders"
    assert load_config().hotspots.denominator is None


def test_a_typo_fails_with_the_key_path(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("hotspots:\n  min_cuont: 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hotspots\.min_cuont"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: [1, 2]", "model"),
        ("model:\n  unknown_threshold: 1.5", "unknown_threshold"),
        ("model:\n  word_ngrams: [3, 1]", "n-gram range"),
        ("- a\n- b", "mapping"),
        ("key: [unclosed", "not valid YAML"),
    ],
)
def test_invalid_config_says_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_shipped_taxonomy_is_consistent():
    taxonomy = load_taxonomy(DEFAULT_CONFIG_DIR / "taxonomy.yaml")
    assert 15 <= len(taxonomy.reasons) <= 25
    assert 8 <= len(taxonomy.root_causes) <= 12
    for reason in taxonomy.reasons:
        assert reason.keywords.zh and reason.keywords.en, reason.id
        assert taxonomy.root_cause(reason.root_cause) is not None


TAXONOMY = """
root_causes:
  - {id: billing, name_zh: 计费, name_en: Billing, owner: Billing team}
reasons:
  - id: bill
    name_zh: 账单
    name_en: Bill
    description: Bill questions
    keywords: {zh: [账单], en: [bill]}
    customer_value: 2
    company_value: 2
    root_cause: %s
"""


def test_taxonomy_with_unknown_root_cause_is_rejected(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(TAXONOMY % "network", encoding="utf-8")
    with pytest.raises(ConfigError, match="root cause 'network'"):
        load_taxonomy(path)


def test_configured_paths_cannot_escape_their_root(tmp_path):
    assert resolve_under(tmp_path, Path("store")) == (tmp_path / "store").resolve()
    with pytest.raises(ConfigError, match="escapes"):
        resolve_under(tmp_path, Path("../elsewhere"))


def test_tracking_uri_defaults_to_a_local_sqlite_store_and_env_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(PipelineConfig(), tmp_path) == f"sqlite:///{tmp_path.resolve() / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(PipelineConfig(), tmp_path) == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("key", "value"),
    [("store", "../../etc"), ("reports", "/tmp"), ("models", "models/../../outside"), ("incoming", "../incoming")],
)
def test_a_run_refuses_configured_paths_outside_home(tmp_path, key, value, capsys):
    from pipeline.cli import main

    config = yaml.safe_load((DEFAULT_CONFIG_DIR / "pipeline.yaml").read_text(encoding="utf-8"))
    config["paths"] = {key: value}
    for name in ("taxonomy", "userdict", "stopwords"):
        config[name] = str(DEFAULT_CONFIG_DIR / config[name])
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    assert main(["run", "--date", "2026-11-20", "--config", str(path), "--home", str(home), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and f"path '{value}' escapes its root" in error, error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "pipeline.yaml"]


def test_write_config_merges_sections_and_works_from_any_folder(tmp_path):
    from pipeline.config import write_config

    shipped = load_config()
    path = write_config(tmp_path / "site.yaml", ingest={"reject_tolerance": 0.25}, run={"lock_timeout_s": 7})
    config = load_config(path)
    assert config.ingest.reject_tolerance == 0.25 and config.run.lock_timeout_s == 7
    assert config.ingest.encoding == shipped.ingest.encoding  # the rest of the section is kept
    assert config.taxonomy == shipped.taxonomy and config.taxonomy.is_absolute()
