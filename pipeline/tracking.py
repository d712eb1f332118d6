"""MLflow tracking: one run per training, with parameters, metrics, reports and the model.

This is the only module that imports MLflow (importing it costs seconds, so the nightly scoring
path never does). The tracking URI comes from ``config.tracking_uri``: a local SQLite store by
default, a tracking server when ``MLFLOW_TRACKING_URI`` or the config names one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from importlib.metadata import version
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
PYFUNC_SOURCE = PACKAGE_DIR / "mlflow_model.py"
PIP_REQUIREMENTS = ("scikit-learn", "jieba", "rjieba", "opencc-python-reimplemented", "pandas", "joblib", "pyyaml", "pydantic")


def _quiet_mlflow() -> None:
    for name in ("mlflow", "alembic", "urllib3", "git"):
        logging.getLogger(name).setLevel(logging.WARNING)


def prepare_experiment(uri: str, experiment: str, artifact_location: Path | None):
    import mlflow

    _quiet_mlflow()
    mlflow.set_tracking_uri(uri)
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is None:
        location = artifact_location.resolve().as_uri() if artifact_location else None
        if artifact_location:
            artifact_location.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment)
    return mlflow


def pip_requirements(embeddings: str = "none") -> list[str]:
    """What the logged pyfunc needs, pinned to the versions installed here; a model with sentence
    embeddings also needs the packages of the extra that installs its encoder."""
    names = list(PIP_REQUIREMENTS)
    if embeddings != "none":
        from importlib.metadata import requires

        from packaging.requirements import Requirement

        from pipeline.features import EMBEDDING_MODELS

        extra = EMBEDDING_MODELS[embeddings][1]
        wanted = (Requirement(line) for line in requires("contact-reasons") or ())
        names += [r.name for r in wanted if r.marker is not None and r.marker.evaluate({"extra": extra})]
    return [f"{name}=={version(name)}" for name in names]


def log_training(
    *,
    uri: str,
    experiment: str,
    artifact_location: Path | None,
    model_dir: Path,
    params: dict,
    metrics: dict,
    tables: dict[str, pd.DataFrame],
    files: list[Path],
    tags: dict[str, str],
    config: dict | None = None,
) -> tuple[str, str]:
    """Log a finished training as an MLflow run; returns the run id and the logged model's URI."""
    mlflow = prepare_experiment(uri, experiment, artifact_location)
    with mlflow.start_run(tags=tags) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(flatten_metrics(metrics))
        mlflow.log_dict(metrics, "metrics.json")
        if config is not None:
            mlflow.log_dict(config, "config/pipeline.json")
        with tempfile.TemporaryDirectory() as scratch:
            for name, table in tables.items():
                path = Path(scratch) / f"{name}.csv"
                table.to_csv(path, index=False)
                mlflow.log_artifact(str(path))
        for path in files:
            if Path(path).exists():
                mlflow.log_artifact(str(path), artifact_path="config")
        logged = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_SOURCE),
            artifacts={"model_dir": str(model_dir)},
            code_paths=[str(PACKAGE_DIR)],
            pip_requirements=pip_requirements(str(params.get("embeddings", "none"))),
        )
        log.info("tracking - run %s logged to %s", run.info.run_id, uri)
        return run.info.run_id, logged.model_uri


def flatten_metrics(metrics: dict, prefix: str = "") -> dict[str, float]:
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def load_logged_model(uri: str, model_uri: str):
    """A logged model as an MLflow pyfunc (``models:/…``, ``runs:/<id>/model`` or ``models:/name@champion``)."""
    import mlflow

    _quiet_mlflow()
    mlflow.set_tracking_uri(uri)
    return mlflow.pyfunc.load_model(model_uri)


def register_model(uri: str, model_uri: str, name: str) -> str:
    """Register a logged model under ``name``; returns the new version number."""
    import mlflow

    _quiet_mlflow()
    mlflow.set_tracking_uri(uri)
    messages = io.StringIO()
    with contextlib.redirect_stdout(messages), contextlib.redirect_stderr(messages):  # MLflow prints here
        version = mlflow.register_model(model_uri, name)
    log.info("tracking - %s", " ".join(messages.getvalue().split()) or f"registered {name} version {version.version}")
    return str(version.version)


def set_champion_alias(uri: str, name: str, version: str, alias: str = "champion") -> None:
    from mlflow import MlflowClient

    _quiet_mlflow()
    MlflowClient(tracking_uri=uri).set_registered_model_alias(name, alias, version)


def champion_version(uri: str, name: str, alias: str = "champion") -> str | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    _quiet_mlflow()
    try:
        return str(MlflowClient(tracking_uri=uri).get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None
