import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ModelError
from pipeline.modelstore import latest_model_dir, load_model, next_version, save_model

TEXTS = pd.Series(["我的宽带断了", "账单多扣了钱", "I want to cancel my plan", "帳單金額唔啱"])


@pytest.fixture
def saved(tmp_path, trained):
    return save_model(trained.model, tmp_path / "m" / "1", {"name": "m", "version": "1", "unknown_threshold": 0.35, "labels": list(trained.model.classes_)})


def test_round_trip_predicts_identically(saved, trained):
    loaded = load_model(saved)
    assert (loaded.pipeline.predict_proba(TEXTS) == trained.model.predict_proba(TEXTS)).all()
    assert loaded.metadata["model_sha256"]
    assert loaded.metadata["versions"]["scikit-learn"]


def test_round_trip_in_a_fresh_process(saved, trained):
    code = (
        "import sys, json; from pipeline.modelstore import load_model; import pandas as pd;"
        f"m = load_model(sys.argv[1]); print(json.dumps(m.pipeline.predict_proba(pd.Series({list(TEXTS)!r})).tolist()))"
    )
    output = subprocess.run([sys.executable, "-c", code, str(saved)], capture_output=True, text=True, check=True).stdout
    assert np.allclose(json.loads(output), trained.model.predict_proba(TEXTS), rtol=0, atol=1e-12)


def test_tampered_joblib_is_refused_before_loading(saved):
    with open(saved / "model.joblib", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelError, match="SHA-256"):
        load_model(saved)


def test_model_json_cannot_point_outside_its_directory(saved, tmp_path):
    shutil.copy(saved / "model.joblib", tmp_path / "elsewhere.joblib")
    metadata = json.loads((saved / "model.json").read_text())
    metadata["model_file"] = "../../elsewhere.joblib"
    (saved / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match="outside its directory"):
        load_model(saved)


def test_other_scikit_learn_release_gives_an_actionable_error(saved):
    metadata = json.loads((saved / "model.json").read_text())
    metadata["versions"]["scikit-learn"] = "0.24.2"
    (saved / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match=r"scikit-learn 0\.24\.2.*install scikit-learn==0\.24\.2 or retrain"):
        load_model(saved)


def test_a_folder_without_model_json_is_not_a_model(tmp_path):
    with pytest.raises(ModelError, match="not a model directory"):
        load_model(tmp_path)


def test_versions_count_up_and_latest_is_found(saved):
    root = saved.parent
    assert next_version(root) == 2
    assert latest_model_dir(root) == saved
