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
# # Explore contacts
# What arrives each night: channels, languages and scripts, text lengths, volumes per reason
# and day, and the words that set each reason apart. Runs on a small demo set; point
# `CONTACTS` at your own export (CSV/JSONL/Parquet with `contact_id`, `text`, `started_at`) to
# look at real data — `pipeline.io.read_contacts` reads it whatever its encoding.

# %%
import pandas as pd

from pipeline.config import load_config, load_taxonomy
from pipeline.demo import generate_demo
from pipeline.hotspots import distinctive_phrases
from pipeline.normalize import prepare_texts
from pipeline.pii import mask_pii_series
from pipeline.simplify import convert_to_simplified
from pipeline.tokenize import Tokenizer, read_stopwords, read_user_words

config = load_config()
taxonomy = load_taxonomy(config.taxonomy)
demo = generate_demo(taxonomy, days=10)
contacts = demo.contacts.merge(demo.truth[["contact_id", "reason"]], on="contact_id")
len(contacts), list(contacts.columns)

# %% [markdown]
# ## Channels and scripts
# Traditional characters are converted before features; the share tells how much depends on it.

# %%
def script(text: str) -> str:
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "latin only"
    return "traditional" if convert_to_simplified(text) != text else "simplified"


contacts["script"] = contacts["text"].map(script)
pd.crosstab(contacts["channel"], contacts["script"], margins=True)

# %% [markdown]
# ## Lengths: what the classifier sees (the customer's turns) against the whole transcript

# %%
customer_view = prepare_texts(contacts["text"], view=config.normalize.view)
lengths = pd.DataFrame({"transcript": contacts["text"].str.len(), "customer_words": [len(t.split()) for t in customer_view]})
lengths.describe().round(1)

# %% [markdown]
# ## Volume per reason and day

# %%
contacts["day"] = contacts["started_at"].str[:10]
volume = contacts.pivot_table(index="reason", columns="day", values="contact_id", aggfunc="count", fill_value=0)
volume.assign(total=volume.sum(axis=1)).sort_values("total", ascending=False).head(10)

# %% [markdown]
# ## What sets each reason apart
# Distinctive words of a reason against all other contacts (log-odds with an informative prior,
# the same measure as the reports' `top_phrases`): candidates for the taxonomy's `keywords`.

# %%
tokenizer = Tokenizer(read_user_words(config.userdict), read_stopwords(config.stopwords))
tokens = pd.Series([tokenizer(text) for text in customer_view], index=contacts.index)
phrases = {
    reason: " | ".join(distinctive_phrases(list(tokens[contacts["reason"] == reason]), list(tokens[contacts["reason"] != reason]), top=6))
    for reason in contacts["reason"].value_counts().index[:8]
}
pd.Series(phrases, name="distinctive words")

# %% [markdown]
# ## A few examples, PII-masked as in the reports

# %%
mask_pii_series(contacts.sample(5, random_state=1)["text"]).str.slice(0, 160).to_frame("text_masked")
