"""Accuracy on real public data through the CLI, as a data scientist would run it.

The data sets live in ../shared/data on team machines only; elsewhere these tests skip.
"""

import pytest

from .conftest import train_and_evaluate


def test_banking77_accuracy(tmp_path):
    _, metrics = train_and_evaluate("banking77", tmp_path)
    assert metrics["accuracy"] >= 0.90, metrics


def test_banking77_accuracy_with_sentence_embeddings(tmp_path):
    pytest.importorskip("sentence_transformers")
    _, metrics = train_and_evaluate("banking77", tmp_path, embeddings="all-MiniLM-L6-v2")
    assert metrics["accuracy"] >= 0.93, metrics
