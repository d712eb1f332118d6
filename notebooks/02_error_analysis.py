# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Error analysis of a trained model
# Train on the labelled share of a small demo set, score the unlabelled last days against the
# truth, and look at what goes wrong: the confused pairs with examples, how precision grows as
# the confidence threshold rises, and training labels the model contradicts. To analyse your
# own model, load it with `pipeline.modelstore.load_model("models/<name>/<n>")` and use your
# labelled hold-out instead of `truth`.

# %%
import numpy as np
import pandas as pd

from pipeline.config import load_config, load_taxonomy
from pipeline.demo import generate_demo
from pipeline.pii import mask_pii_series
from pipeline.review import check_labels, label_error_model
from pipeline.tokenize import read_user_words
from pipeline.train import (
    confused_pairs,
    coverage_precision_curve,
    per_class_table,
    train_classifier,
)

config = load_config()
taxonomy = load_taxonomy(config.taxonomy)
demo = generate_demo(taxonomy, days=12)
labelled = demo.labelled.groupby("reason").head(80)
result = train_classifier(
    labelled["text"], labelled["reason"], config.model.model_copy(update={"cv_folds": 0, "open_set_share": 0}),
    config.normalize, read_user_words(config.userdict),
)
held_out = demo.contacts[~demo.contacts["contact_id"].isin(demo.labelled["contact_id"])].merge(demo.truth, on="contact_id")
probabilities = result.model.predict_proba(held_out["text"])
held_out["predicted"] = result.model.classes_[probabilities.argmax(axis=1)]
held_out["confidence"] = probabilities.max(axis=1)
f"{len(labelled)} training rows, {len(held_out)} scored; accuracy {(held_out['predicted'] == held_out['reason']).mean():.3f}"

# %% [markdown]
# ## Per reason: where recall or precision is weak

# %%
per_class_table(held_out["reason"].to_numpy(), held_out["predicted"].to_numpy()).sort_values("f1").head(8)

# %% [markdown]
# ## The most confused pairs, with examples

# %%
pairs = pd.DataFrame(confused_pairs(held_out["reason"].to_numpy(), held_out["predicted"].to_numpy(), top=5))
examples = []
for pair in pairs.itertuples():
    wrong = held_out[(held_out["reason"] == pair.true) & (held_out["predicted"] == pair.predicted)]
    examples.append(" || ".join(mask_pii_series(wrong["text"].head(2)).str.slice(0, 120)))
pairs.assign(examples=examples)

# %% [markdown]
# ## Confidence: coverage against precision
# The nightly threshold for `unknown` trades the two (`model.target_precision`).

# %%
curve = coverage_precision_curve(held_out["reason"].to_numpy(), probabilities, result.model.classes_)
curve[curve["threshold"].isin(np.round(np.arange(0.1, 1.0, 0.1), 2))]

# %% [markdown]
# ## Training labels the model contradicts (what `review export --data` queues)

# %%
issues = check_labels(labelled["text"], labelled["reason"], label_error_model(config.model, config.normalize), 3, 42)
suspect = labelled.join(issues).sort_values("self_confidence").head(8)
suspect.assign(text=mask_pii_series(suspect["text"]).str.slice(0, 100))[["reason", "suggested_reason", "self_confidence", "text"]]
