"""Deterministic demo contacts for the default telecom taxonomy (``configs/taxonomy.yaml``).

``generate_demo`` builds eight weeks of contacts as the nightly job would receive them, the true
reason of every contact (for evaluation) and a labelled training share. It is pure: no files, no
clock, no environment; one ``numpy`` Generator seeded from the argument drives everything, so the
same seed gives identical frames, text included.

Volume: per day and reason a Poisson count around a stationary mean (a Zipf-like spread of shares
over the reasons) times a weekday factor; no trend and no drift, except the injected
:data:`HOTSPOTS` at the end of the period. Text: the phrase banks of :mod:`pipeline.demo_phrases`
composed into phone/chat transcripts, e-mails, store notes and app/social messages, in simplified
Chinese, traditional Chinese with Hong Kong or Taiwan wording, English and code-switched text,
with typing slips, small talk, second reasons, vague contacts, effort cues and generated
(never real) personal data: phone numbers, e-mails, PRC/HK/TW ids, bank cards, order numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipeline import schemas as s
from pipeline.config import Taxonomy
from pipeline.demo_phrases import REASONS
from pipeline.demo_text import LANGUAGES, Composer, Stream
from pipeline.errors import ConfigError

DEMO_END = date(2026, 11, 20)
DEMO_SEED = 20261120
REGION = "region"
PRODUCT = "product"

REGIONS = ("North", "East", "South", "Southwest", "Hong Kong", "Taiwan")
REGION_SHARES = (0.20, 0.20, 0.20, 0.12, 0.14, 0.14)
_LANGUAGE_SHARES = {  # given the region; overall about 45 / 20 / 20 / 15 % zh / traditional / en / mix
    "mainland": (0.61, 0.015, 0.015, 0.17, 0.19),
    "Hong Kong": (0.02, 0.60, 0.0, 0.32, 0.06),
    "Taiwan": (0.05, 0.0, 0.68, 0.22, 0.05),
}
CHANNELS = ("phone", "chat", "app", "email", "store", "social")
CHANNEL_SHARES = (0.42, 0.25, 0.12, 0.08, 0.08, 0.05)
PRODUCTS = ("mobile", "broadband", "bundle", "prepaid")
WEEKDAY_FACTORS = (1.15, 1.08, 1.05, 1.02, 1.00, 0.80, 0.70)  # Monday .. Sunday, before normalising

# Volume rank of each reason (share proportional to 1 / (rank + 4)): the most frequent first.
VOLUME_ORDER = (
    "billing_dispute", "network_signal", "plan_change", "data_usage", "top_up", "broadband_outage",
    "how_to", "account_password", "sim_device", "value_added_service", "cancellation", "payment_failure",
    "upgrade_offer", "broadband_install", "spam_sms", "invoice_request", "new_activation",
    "roaming_charges", "number_porting", "staff_complaint",
)
ALTERNATIVE_ROOT_CAUSES = {
    "network_signal": "fixed_network_fault", "broadband_outage": "network_coverage", "billing_dispute": "unclear_pricing",
    "value_added_service": "fraud_spam", "spam_sms": "unclear_pricing", "payment_failure": "billing_error",
    "staff_complaint": "exit_process", "top_up": "payment_channel_fault", "how_to": "unclear_pricing",
    "invoice_request": "billing_error", "data_usage": "self_service_gap", "roaming_charges": "billing_error",
    "plan_change": "unclear_pricing", "upgrade_offer": "unclear_pricing", "new_activation": "identity_verification",
    "broadband_install": "fixed_network_fault", "cancellation": "unclear_pricing", "number_porting": "identity_verification",
    "account_password": "self_service_gap", "sim_device": "self_service_gap",
}
_HANDLE_MINUTES = {
    "billing_dispute": 9, "network_signal": 8, "broadband_outage": 9, "value_added_service": 7, "spam_sms": 5,
    "payment_failure": 6, "staff_complaint": 11, "top_up": 3, "how_to": 4, "invoice_request": 4, "data_usage": 4,
    "roaming_charges": 6, "plan_change": 8, "upgrade_offer": 9, "new_activation": 12, "broadband_install": 9,
    "cancellation": 10, "number_porting": 9, "account_password": 6, "sim_device": 7,
}
_HARD_REASONS = {"billing_dispute", "broadband_outage", "staff_complaint", "cancellation", "number_porting", "value_added_service"}
# Valued by the workshop (leverage) but irritating in practice: missed installation slots,
# engineers who do not come, calls passed between sales and field teams.
_FRICTION_REASONS = {"broadband_install"}
_CHANNEL_HANDLE_FACTOR = {"phone": 1.0, "chat": 0.7, "app": 0.4, "email": 0.5, "store": 1.4, "social": 0.5}
_HOUR_WEIGHTS = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 3.5, 6, 7, 7, 5.5, 6, 6.5, 6.5, 6, 5.5, 4.5, 4.5, 4.5, 4, 2.5, 1])
_STORE_HOUR_WEIGHTS = np.array([0] * 10 + [4, 5, 5, 5, 6, 6, 6, 6, 5, 5, 4, 3] + [0, 0], dtype=float)
_REPEAT_WINDOW_S = 7 * 86_400


@dataclass(frozen=True)
class Hotspot:
    """An injected spike: ``reason`` in ``region`` (None: everywhere) runs at ``multiplier`` times
    its usual volume from ``start_offset`` days before the last day through the last day."""

    reason: str
    region: str | None
    start_offset: int
    multiplier: float
    theme: str  # phrase bank in demo_phrases.HOTSPOT_THEMES

    def days(self, end: date) -> tuple[date, ...]:
        return tuple(end - timedelta(days=k) for k in range(self.start_offset, -1, -1))


HOTSPOTS = (
    # a regional fibre outage: x10 in the South on the last two days, about x2.8 nationally
    Hotspot(reason="broadband_outage", region="South", start_offset=1, multiplier=10.0, theme="outage"),
    # a billing-system error charging the monthly fee twice: x3 everywhere on the last three days
    Hotspot(reason="billing_dispute", region=None, start_offset=2, multiplier=3.0, theme="double_charge"),
)


@dataclass(frozen=True)
class DemoData:
    contacts: pd.DataFrame  # the nightly input: DESIGN §2 columns plus region and product, no labels
    truth: pd.DataFrame  # contact_id, reason, root_cause for every contact
    labelled: pd.DataFrame  # training share before the last 7 days: contacts' columns + reason, root_cause


def reason_daily_means(taxonomy: Taxonomy, daily_mean: float = 536.0) -> dict[str, float]:
    """Expected contacts per reason on an average day (before weekday factors and hotspots)."""
    ids = [reason.id for reason in taxonomy.reasons]
    weights = np.array([1.0 / (VOLUME_ORDER.index(i) + 5) if i in VOLUME_ORDER else 1.0 / 25 for i in ids])
    return dict(zip(ids, (daily_mean * weights / weights.sum()).tolist()))


def generate_demo(
    taxonomy: Taxonomy,
    seed: int = DEMO_SEED,
    days: int = 56,
    end: date = DEMO_END,
    daily_mean: float = 536.0,
    labelled_share: float = 0.25,
) -> DemoData:
    """Demo contacts for ``days`` days ending on ``end``, the truth, and a labelled share."""
    missing = sorted(r.id for r in taxonomy.reasons if r.id not in REASONS)
    if missing:
        raise ConfigError(f"the demo has phrases for the default taxonomy only; no phrases for reasons {missing}")
    if days < 8 or daily_mean <= 0 or not 0 < labelled_share <= 1:
        raise ConfigError(f"demo needs days >= 8, daily_mean > 0 and 0 < labelled_share <= 1, "
                          f"got days={days}, daily_mean={daily_mean}, labelled_share={labelled_share}")
    # one independent stream per stage, so that changing how one stage draws leaves the others alone
    volume_rng, people_rng, meta_rng, text_rng, label_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(5))
    reasons = [r.id for r in taxonomy.reasons]
    plan = _plan_contacts(volume_rng, taxonomy, reasons, days, end, daily_mean)
    people = _assign_customers(people_rng, taxonomy, reasons, plan)
    meta = _metadata(meta_rng, taxonomy, reasons, plan, people)
    composer = Composer(Stream(text_rng))
    start = end - timedelta(days=days - 1)
    texts = [
        composer.text(reasons[plan["reason"][i]], LANGUAGES[people["language"][i]], CHANNELS[plan["channel"][i]],
                      REGIONS[people["region"][i]], start + timedelta(days=int(plan["day"][i])),
                      _theme(plan["hotspot"][i]), bool(people["repeat"][i]), bool(meta["wait_time_s"][i] > 600),
                      int(meta["transfers"][i]), reasons)
        for i in range(len(plan["day"]))
    ]
    n = len(texts)
    stamps = np.datetime64(start.isoformat(), "s") + plan["seconds"].astype("timedelta64[s]")
    contacts = pd.DataFrame({
        s.CONTACT_ID: [f"C{10_000 + i:08d}" for i in range(n)],
        s.STARTED_AT: np.char.add(np.datetime_as_string(stamps, unit="s"), "+08:00"),
        s.CHANNEL: np.array(CHANNELS)[plan["channel"]],
        REGION: np.array(REGIONS)[people["region"]],
        PRODUCT: np.array(PRODUCTS)[people["product"]],
        s.CUSTOMER_ID: people["customer_id"],
        s.TEXT: texts,
        **meta,
    })
    root_causes = _root_causes(label_rng, taxonomy, reasons, plan["reason"])
    truth = pd.DataFrame({s.CONTACT_ID: contacts[s.CONTACT_ID], s.REASON: np.array(reasons)[plan["reason"]],
                          s.ROOT_CAUSE: root_causes})
    in_training_window = plan["day"] <= days - 8  # never the last 7 days, where the hotspots are
    chosen = in_training_window & (label_rng.random(n) < labelled_share)
    labelled = contacts[chosen].assign(**{s.REASON: truth[s.REASON][chosen], s.ROOT_CAUSE: truth[s.ROOT_CAUSE][chosen]})
    return DemoData(contacts=contacts, truth=truth, labelled=labelled.reset_index(drop=True))


def _theme(hotspot_index: int) -> str | None:
    return HOTSPOTS[hotspot_index].theme if hotspot_index >= 0 else None


def _plan_contacts(rng, taxonomy, reasons, days, end, daily_mean) -> dict[str, np.ndarray]:
    """Day, reason, hotspot, channel and time of every contact, sorted by time."""
    means = np.array(list(reason_daily_means(taxonomy, daily_mean).values()))
    start = end - timedelta(days=days - 1)
    weekday = np.array(WEEKDAY_FACTORS) / np.mean(WEEKDAY_FACTORS)
    day_factor = weekday[[(start + timedelta(days=d)).weekday() for d in range(days)]]
    counts = rng.poisson(np.outer(day_factor, means))  # days x reasons
    day = np.repeat(np.repeat(np.arange(days), len(reasons)), counts.ravel())
    reason = np.repeat(np.tile(np.arange(len(reasons)), days), counts.ravel())
    hotspot = np.full(len(day), -1)
    for index, spot in enumerate(HOTSPOTS):
        if spot.reason not in reasons:
            continue
        r = reasons.index(spot.reason)
        share = REGION_SHARES[REGIONS.index(spot.region)] if spot.region else 1.0
        for offset in range(spot.start_offset, -1, -1):
            d = days - 1 - offset
            extra = rng.poisson(means[r] * day_factor[d] * share * (spot.multiplier - 1))
            day = np.concatenate([day, np.full(extra, d)])
            reason = np.concatenate([reason, np.full(extra, r)])
            hotspot = np.concatenate([hotspot, np.full(extra, index)])
    channel = rng.choice(len(CHANNELS), size=len(day), p=CHANNEL_SHARES)
    hour = np.where(channel == CHANNELS.index("store"),
                    rng.choice(24, size=len(day), p=_STORE_HOUR_WEIGHTS / _STORE_HOUR_WEIGHTS.sum()),
                    rng.choice(24, size=len(day), p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()))
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, size=len(day))
    order = np.argsort(seconds, kind="stable")
    return {"day": day[order], "reason": reason[order], "hotspot": hotspot[order],
            "channel": channel[order], "seconds": seconds[order]}


def _assign_customers(rng, taxonomy, reasons, plan) -> dict[str, np.ndarray]:
    """Customers, regions, languages and products; about 15 % of contacts repeat a customer who
    contacted within the previous 7 days, mostly about the same reason, keeping their region."""
    n, seconds, reason = len(plan["day"]), plan["seconds"], plan["reason"]
    forced = np.array([REGIONS.index(HOTSPOTS[h].region) if h >= 0 and HOTSPOTS[h].region else -1 for h in plan["hotspot"]])
    region = np.where(forced >= 0, forced, rng.choice(len(REGIONS), size=n, p=REGION_SHARES))
    shares = np.array([_LANGUAGE_SHARES.get(name, _LANGUAGE_SHARES["mainland"]) for name in REGIONS])
    language = (rng.random(n)[:, None] > np.cumsum(shares, axis=1)[region, :-1]).sum(axis=1)
    product_weights = np.array([_product_weights(r) for r in reasons])
    product = (rng.random(n)[:, None] > np.cumsum(product_weights, axis=1)[reason, :-1]).sum(axis=1)
    eliminate = np.array([_quadrant(taxonomy, r) == "eliminate" for r in reasons])
    p_repeat = 0.155 * np.where(eliminate[reason], 1.3, 0.85) * np.where(plan["hotspot"] >= 0, 1.3, 1.0)
    u_repeat, u_same, u_pick = rng.random(n), rng.random(n), rng.random(n)
    members = [np.flatnonzero(reason == r) for r in range(len(reasons))]
    low_same, rank_same = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for index in members:
        low_same[index] = np.searchsorted(seconds[index], seconds[index] - _REPEAT_WINDOW_S)
        rank_same[index] = np.arange(len(index))
    low_all = np.searchsorted(seconds, seconds - _REPEAT_WINDOW_S)
    customer, repeat, new = np.empty(n, dtype=np.int64), np.zeros(n, dtype=bool), 0
    for i in range(n):
        j = -1
        if u_repeat[i] < p_repeat[i]:
            low, high = (low_same[i], rank_same[i]) if u_same[i] < 0.7 else (low_all[i], i)
            if high > low:
                k = low + int(u_pick[i] * (high - low))
                j = members[reason[i]][k] if u_same[i] < 0.7 else k
            if j >= 0 and forced[i] >= 0 and region[j] != forced[i]:
                j = -1
        if j >= 0:
            customer[i], region[i], language[i], product[i], repeat[i] = customer[j], region[j], language[j], product[j], True
        else:
            customer[i], new = new, new + 1
    numbers = rng.choice(9_000_000, size=new, replace=False) + 1_000_000
    return {"customer_id": np.array([f"U{number}" for number in numbers])[customer], "region": region,
            "language": language, "product": product, "repeat": repeat}


def _product_weights(reason: str) -> tuple[float, float, float, float]:
    if reason in {"broadband_outage", "broadband_install"}:
        return (0.0, 0.6, 0.4, 0.0)
    if reason == "top_up":
        return (0.3, 0.05, 0.05, 0.6)
    if reason in {"network_signal", "spam_sms", "roaming_charges", "sim_device", "number_porting", "data_usage"}:
        return (0.55, 0.0, 0.25, 0.2)
    return (0.45, 0.2, 0.2, 0.15)


def _quadrant(taxonomy: Taxonomy, reason_id: str, cutoff: float = 3) -> str:
    reason = taxonomy.reason(reason_id)
    high_customer, high_company = reason.customer_value >= cutoff, reason.company_value >= cutoff
    return {(True, True): "leverage", (False, True): "simplify", (True, False): "automate"}.get(
        (high_customer, high_company), "eliminate")


def _metadata(rng, taxonomy, reasons, plan, people) -> dict[str, np.ndarray]:
    """Handle and wait times, transfers, resolution and surveys, tied to reason and effort."""
    n, reason, channel = len(plan["day"]), plan["reason"], plan["channel"]
    names = np.array(CHANNELS)[channel]
    minutes = np.array([_HANDLE_MINUTES.get(r, 6) for r in reasons])[reason]
    factor = np.array([_CHANNEL_HANDLE_FACTOR[c] for c in CHANNELS])[channel]
    handle = np.maximum(20, np.round(60 * minutes * factor * np.exp(rng.normal(-0.15, 0.55, n)))).astype(np.int64)
    queued = np.isin(names, ["phone", "chat"])
    wait = np.exp(rng.normal(np.where(names == "phone", np.log(70), np.log(40)), 0.9))
    long_wait = rng.random(n) < 0.06
    wait = np.where(long_wait, rng.uniform(600, 2_400, n), wait)
    wait = np.where(queued, np.round(wait), np.nan)
    hard = np.array([r in _HARD_REASONS | _FRICTION_REASONS for r in reasons])[reason]
    friction = np.array([r in _FRICTION_REASONS for r in reasons])[reason]
    transfers = np.minimum(3, rng.poisson(np.where(hard, 0.4, 0.12))).astype(np.int64)
    eliminate = np.array([_quadrant(taxonomy, r) == "eliminate" for r in reasons])[reason]
    repeat = people["repeat"]
    p_resolved = 0.88 - 0.18 * eliminate - 0.3 * friction - 0.15 * repeat - 0.08 * transfers - 0.3 * (plan["hotspot"] >= 0)
    resolved = rng.random(n) < np.clip(p_resolved, 0.05, 0.97)
    waited_long = np.nan_to_num(wait) > 600
    effort = 1.3 * ~resolved + 0.5 * repeat + 0.5 * waited_long + 0.3 * transfers
    csat_given = rng.random(n) < np.where(queued, 0.3, 0.15)
    csat = np.clip(np.round(4.4 - effort + rng.normal(0, 0.7, n)), 1, 5)
    ces_given = rng.random(n) < 0.12
    ces = np.clip(np.round(6.0 - 1.4 * effort + rng.normal(0, 0.9, n)), 1, 7)  # 1-7, higher = easier
    return {s.HANDLE_TIME_S: handle, s.WAIT_TIME_S: wait, s.TRANSFERS: transfers, s.RESOLVED: resolved,
            s.CSAT: np.where(csat_given, csat, np.nan), s.CES: np.where(ces_given, ces, np.nan)}


def _root_causes(rng, taxonomy, reasons, reason_index) -> np.ndarray:
    known = {cause.id for cause in taxonomy.root_causes}
    default = np.array([taxonomy.reason(r).root_cause for r in reasons])
    alternative = np.array([c if (c := ALTERNATIVE_ROOT_CAUSES.get(r)) in known else taxonomy.reason(r).root_cause
                            for r in reasons])
    return np.where(rng.random(len(reason_index)) < 0.1, alternative[reason_index], default[reason_index])
