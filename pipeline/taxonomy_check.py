"""Taxonomy lint (``contact-reasons taxonomy check``): problems a workshop taxonomy tends to have.

Each check returns findings, one readable line each: keywords that fire for two reasons, too few
or too many reasons, names and keywords missing in one language, and — given labelled data —
labels the taxonomy does not know and reasons with too few examples to learn.
"""

from __future__ import annotations

import re

import pandas as pd

from pipeline.config import NormalizeSettings, ReviewSettings, Taxonomy
from pipeline.rules import prepared_keywords

_CJK = re.compile(r"[\u3400-\u9FFF]")


def check_size(taxonomy: Taxonomy, settings: ReviewSettings) -> list[str]:
    count = len(taxonomy.reasons)
    if count < settings.min_reasons:
        return [f"size: {count} reasons, fewer than {settings.min_reasons}: a report this coarse hides what to fix; split broad reasons"]
    if count > settings.max_reasons:
        return [f"size: {count} reasons, more than {settings.max_reasons}: people cannot label consistently; merge rare or similar reasons"]
    return []


def check_keyword_overlap(taxonomy: Taxonomy, normalize: NormalizeSettings) -> list[str]:
    """A keyword listed (after normalisation: script, width, case) for more than one reason.

    A keyword inside a longer one of another reason ('sim' in 'new sim') is not a finding: the
    longer phrase adds its own weight, which is how the rules tell the two apart.
    """
    keywords = prepared_keywords(taxonomy, normalize)
    owners: dict[str, list[str]] = {}
    for reason, words in keywords.items():
        for word in words:
            owners.setdefault(word, []).append(reason)
    findings = [
        f"overlap: keyword '{word}' belongs to {len(reasons)} reasons ({', '.join(reasons)}); keep it in one"
        for word, reasons in sorted(owners.items()) if len(reasons) > 1
    ]
    return findings


def check_translations(taxonomy: Taxonomy) -> list[str]:
    findings = []
    items = [("reason", r.id, r.name_zh, r.name_en) for r in taxonomy.reasons]
    items += [("root cause", c.id, c.name_zh, c.name_en) for c in taxonomy.root_causes]
    for kind, identifier, name_zh, name_en in items:
        if not _CJK.search(name_zh or ""):
            findings.append(f"translation: {kind} '{identifier}' has no Chinese name_zh ('{name_zh}')")
        if not (name_en or "").strip() or _CJK.search(name_en):
            findings.append(f"translation: {kind} '{identifier}' has no English name_en ('{name_en}')")
    for reason in taxonomy.reasons:
        for language, words in (("zh", reason.keywords.zh), ("en", reason.keywords.en)):
            if not [w for w in words if w.strip()]:
                findings.append(f"translation: reason '{reason.id}' has no {language} keywords; cold start and explanations need both")
    return findings


def check_labels(taxonomy: Taxonomy, labels: pd.Series, settings: ReviewSettings) -> list[str]:
    """Labels of a labelled set against the taxonomy."""
    counts = labels.dropna().astype(str).str.strip().replace("", pd.NA).dropna().value_counts()
    known = [reason.id for reason in taxonomy.reasons]
    findings = [
        f"labels: '{label}' ({n} rows) is not a reason in the taxonomy; add it or relabel the rows"
        for label, n in counts.items() if label not in known
    ]
    findings += [
        f"examples: reason '{reason}' has {int(counts.get(reason, 0))} labelled examples, fewer than "
        f"{settings.min_examples_per_reason}; label more (contact-reasons review export)"
        for reason in known if counts.get(reason, 0) < settings.min_examples_per_reason
    ]
    return findings


def check_taxonomy(
    taxonomy: Taxonomy, normalize: NormalizeSettings, settings: ReviewSettings, labels: pd.Series | None = None
) -> list[str]:
    """Every finding, one line each; an empty list means the taxonomy is clean."""
    findings = check_size(taxonomy, settings) + check_keyword_overlap(taxonomy, normalize) + check_translations(taxonomy)
    if labels is not None:
        findings += check_labels(taxonomy, labels, settings)
    return findings
