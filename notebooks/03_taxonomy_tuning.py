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
# # Taxonomy tuning
# How good are the taxonomy's keywords as day-one rules, which keywords mislead, what the lint
# says, and which clusters of unrecognised contacts might be reasons the taxonomy lacks. Edit
# `configs/taxonomy.yaml` (or a copy, `TAXONOMY` below) and re-run.

# %%
import pandas as pd
from sklearn.metrics import f1_score

from pipeline.config import load_config, load_taxonomy
from pipeline.demo import generate_demo
from pipeline.discover import propose_new_reasons
from pipeline.normalize import prepare_texts
from pipeline.predict import predict_reasons
from pipeline.rules import build_rule_model
from pipeline.taxonomy_check import check_taxonomy
from pipeline.tokenize import Tokenizer, read_stopwords, read_user_words

config = load_config()
TAXONOMY = config.taxonomy
taxonomy = load_taxonomy(TAXONOMY)
demo = generate_demo(taxonomy, days=10)
check_taxonomy(taxonomy, config.normalize, config.review, demo.labelled["reason"]) or "lint: no findings"

# %% [markdown]
# ## Keyword rules against the truth (cold start)

# %%
rules = build_rule_model(taxonomy, config.normalize)
scored = pd.concat([demo.contacts, predict_reasons(rules, demo.contacts["text"], config.review.rules_threshold)], axis=1)
truth = demo.truth.set_index("contact_id")["reason"]
scored["truth"] = scored["contact_id"].map(truth)
reasons = [reason.id for reason in taxonomy.reasons]
macro = f1_score(scored["truth"], scored["reason"], labels=reasons, average="macro")
f"macro-F1 {macro:.3f}, unknown {(scored['reason'] == 'unknown').mean():.1%}"

# %% [markdown]
# ## Keywords by precision: which ones fire for other reasons
# A keyword with many hits and low precision pulls contacts into the wrong reason: make it more
# specific or drop it. Keywords that never fire may be words customers do not use.

# %%
classifier = rules.named_steps["classify"]
prepared = prepare_texts(demo.contacts["text"], view=config.normalize.view)
rows = []
for word, pattern, column, _ in classifier.rules_:
    hits = [i for i, text in enumerate(prepared) if word in text and pattern.search(text)]
    owner = classifier.classes_[column]
    right = sum(scored["truth"].iloc[i] == owner for i in hits)
    rows.append({"keyword": word, "reason": owner, "hits": len(hits), "precision": right / len(hits) if hits else None})
keywords = pd.DataFrame(rows)
keywords[keywords["hits"] >= 10].sort_values("precision").head(10)

# %%
f"{int((keywords['hits'] == 0).sum())} of {len(keywords)} keywords never fire on these contacts"

# %% [markdown]
# ## Candidate new reasons among the contacts no keyword explains

# %%
tokenizer = Tokenizer(read_user_words(config.userdict), read_stopwords(config.stopwords))
last_day = scored[scored["started_at"].str[:10] == scored["started_at"].str[:10].max()]
tokens = pd.Series([tokenizer(text) for text in prepare_texts(last_day["text"])], index=last_day.index)
proposals, _ = propose_new_reasons(last_day, tokens, config.review, config.normalize.order_number_patterns)
proposals[["proposal", "contacts", "top_phrases", "closest_reason"]]
