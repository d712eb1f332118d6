"""Quadrants: where each reason sits on the value–irritant matrix, and what to do about it."""

from __future__ import annotations

import pandas as pd

from pipeline.config import QUADRANT_ACTIONS, UNKNOWN_REASON, Taxonomy

UNASSIGNED = "unassigned"


def assign_quadrant(customer_value: float, company_value: float, cutoff: float = 3) -> str:
    """Price & Jaffe: valuable to both → leverage; to neither → eliminate."""
    customer_high = customer_value >= cutoff
    company_high = company_value >= cutoff
    if customer_high and company_high:
        return "leverage"
    if company_high:
        return "simplify"
    if customer_high:
        return "automate"
    return "eliminate"


def reason_table(taxonomy: Taxonomy, cutoff: float = 3, extra_labels: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per reason with names, configured quadrant, action, default root cause and owner.

    Labels the model knows but the taxonomy does not (a user's own data set) and ``unknown``
    get the quadrant ``unassigned`` so that they still flow through every report.
    """
    owners = {c.id: c.owner for c in taxonomy.root_causes}
    rows = []
    for reason in taxonomy.reasons:
        quadrant = assign_quadrant(reason.customer_value, reason.company_value, cutoff)
        rows.append(
            {
                "reason": reason.id,
                "name_zh": reason.name_zh,
                "name_en": reason.name_en,
                "customer_value": reason.customer_value,
                "company_value": reason.company_value,
                "quadrant": quadrant,
                "action": QUADRANT_ACTIONS[quadrant],
                "default_root_cause": reason.root_cause,
                "owner": owners[reason.root_cause],
                "self_service": reason.self_service or "",
            }
        )
    known = {reason.id for reason in taxonomy.reasons}
    for label in [*extra_labels, UNKNOWN_REASON]:
        if label not in known:
            known.add(label)
            rows.append(
                {
                    "reason": label,
                    "name_zh": "未识别" if label == UNKNOWN_REASON else label,
                    "name_en": "not recognised" if label == UNKNOWN_REASON else label,
                    "customer_value": None,
                    "company_value": None,
                    "quadrant": UNASSIGNED,
                    "action": "review these contacts" if label == UNKNOWN_REASON else QUADRANT_ACTIONS[UNASSIGNED],
                    "default_root_cause": UNASSIGNED,
                    "owner": "",
                    "self_service": "",
                }
            )
    return pd.DataFrame(rows)
