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

import functools
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipeline import schemas as s
from pipeline.config import Taxonomy
from pipeline.demo_phrases import (
    AGENT_NAMES, AMBIGUOUS, AREAS, COUNTRIES, EMAIL_DOMAINS, EMAIL_NAMES, HANDSETS, HOTSPOT_THEMES,
    MAINLAND_LANDLINE_CODES, MAINLAND_MOBILE_PREFIXES, MIX_SWAPS, PRC_AREA_CODES, REASONS, TYPOS, VOICES,
)
from pipeline.errors import ConfigError

DEMO_END = date(2026, 11, 20)
DEMO_SEED = 20261120
REGION = "region"
PRODUCT = "product"

REGIONS = ("North", "East", "South", "Southwest", "Hong Kong", "Taiwan")
REGION_SHARES = (0.20, 0.20, 0.20, 0.12, 0.14, 0.14)
LANGUAGES = ("zh", "hk", "tw", "en", "mix")  # simplified, HK traditional, TW traditional, English, code-switched
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
    composer = _Composer(_Stream(text_rng))
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


# ---------------------------------------------------------------- text


class _Stream:
    """Uniform draws from the seeded Generator, handed out one by one (cheap per-word choices)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16):
        self._rng, self._block, self._buffer, self._next = rng, block, [], 0

    def random(self) -> float:
        if self._next == len(self._buffer):
            self._buffer, self._next = self._rng.random(self._block).tolist(), 0
        self._next += 1
        return self._buffer[self._next - 1]

    def chance(self, p: float) -> bool:
        return self.random() < p

    def pick(self, options):
        return options[int(self.random() * len(options))]

    def integer(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low))

    def digits(self, count: int) -> str:
        return "".join(str(int(self.random() * 10)) for _ in range(count))


@functools.lru_cache(maxsize=None)
def _converter(config: str):
    from opencc import OpenCC

    return OpenCC(config)


@functools.lru_cache(maxsize=8192)
def _convert(text: str, config: str) -> str:
    return _converter(config).convert(text)


_TRADITIONAL = {"hk": "s2hk", "tw": "s2twp"}
_ASCII_HANDSETS = tuple(name for name in HANDSETS if name.isascii())
_AMBIGUOUS_GROUP = {
    reason: tuple(f"ambiguous{k}" for k, group in enumerate(AMBIGUOUS) if reason in group["reasons"])
    for group in AMBIGUOUS for reason in group["reasons"]
}


@functools.lru_cache(maxsize=1)
def _banks() -> dict[tuple[str, str, str], tuple[str, ...]]:
    """(reason or theme, kind, language) -> templates; HK/TW also get OpenCC-converted variants."""
    banks = {}
    groups = {f"ambiguous{k}": group for k, group in enumerate(AMBIGUOUS)}
    for name, bank in (*REASONS.items(), *HOTSPOT_THEMES.items(), *groups.items()):
        for lang in LANGUAGES:
            family = "en" if lang == "en" else "zh"
            config = _TRADITIONAL.get(lang)
            banks[name, "own", lang] = bank.get(lang, ())
            if config:
                banks[name, "alt", lang] = tuple(_convert(t, config) for t in bank.get("zh", ()))
            else:
                banks[name, "alt", lang] = bank.get("zh", ()) if lang == "mix" else ()
            for kind in ("detail", "agent", "topic"):
                source = bank.get(f"{family}_{kind}", ())
                banks[name, kind, lang] = tuple(_convert(t, config) for t in source) if config else source
    return banks


_EN_QUESTION = ("how", "what", "can", "could", "is", "are", "do", "does", "will", "why", "where", "when", "has", "am", "would")
_ZH_QUESTION = ("吗", "呢", "多少", "怎么办", "什么", "嗎", "幾多", "點算", "點做", "什麼", "怎麼辦", "多久")


class _Slots(dict):
    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, key):
        value = self[key] = self._make(key)
        return value


class _Composer:
    """Turns (reason, language, channel, …) into one contact's text, drawing from one stream."""

    def __init__(self, stream: _Stream):
        self.s, self.banks = stream, _banks()

    def text(self, reason, lang, channel, region, day, theme, repeat, long_wait, transfers, all_reasons) -> str:
        s = self.s
        self.lang, self.region, self.day, self.reason = lang, region, day, reason
        self.slots = _Slots(self._slot)
        voice = VOICES[lang]
        vague = s.chance(0.03)
        statement = self._fill(s.pick(voice["vague"])) if vague else self._statement(reason, theme)
        if s.chance(0.25):
            statement = self._slip(statement)
        if lang == "zh" and s.chance(0.03):
            statement = _convert(statement, "s2t")  # typed on a traditional keyboard
        cues = []
        if repeat and s.chance(0.45):
            cues.append(s.pick(voice["repeat"]))
        if long_wait and channel in ("phone", "chat") and s.chance(0.5):
            cues.append(s.pick(voice["wait"]))
        if transfers >= 2 and s.chance(0.35):
            cues.append(s.pick(voice["transfer"]))
        detail = None if vague or not s.chance(0.6) else self._fill(self._variant(s.pick(self.banks[reason, "detail", lang])))
        second = None
        if s.chance(0.05):
            other = s.pick([r for r in all_reasons if r != reason])
            second = s.pick(voice["also"]) + self._statement(other, None)
        if channel in ("phone", "chat"):
            return self._transcript(voice, channel, statement, cues, detail, second, vague, theme)
        if channel == "email":
            return self._email(voice, statement, cues, detail, second)
        if channel == "store":
            return self._store(voice, statement, detail)
        return self._message(voice, channel, statement, cues, detail, second)

    # -- pieces
    def _statement(self, reason, theme) -> str:
        s, lang = self.s, self.lang
        name = theme if theme and s.chance(0.85) else reason
        if name == reason and reason in _AMBIGUOUS_GROUP and s.chance(0.1):
            name = s.pick(_AMBIGUOUS_GROUP[reason])
        own, alt = self.banks[name, "own", lang], self.banks[name, "alt", lang]
        if lang == "mix" and alt and (not own or s.chance(0.55)):
            return self._fill(self._code_switch(s.pick(alt), force=True))
        template = s.pick(alt) if alt and lang != "mix" and (not own or s.chance(0.45)) else s.pick(own)
        return self._fill(template)

    def _variant(self, template: str) -> str:
        return self._code_switch(template) if self.lang == "mix" and self.s.chance(0.5) else template

    def _answer(self, theme, vague) -> str:
        voice = VOICES[self.lang]
        if vague:
            return self.s.pick(voice["vague_agent"])
        name = theme if theme and self.s.chance(0.7) else self.reason
        bank = self.banks[name, "agent", self.lang] or self.banks[self.reason, "agent", self.lang]
        return self._fill(self._variant(self.s.pick(bank)))

    def _customer(self, voice, statement, cues) -> str:
        s, english = self.s, self.lang == "en"
        opener = self._fill(s.pick(voice["opener"]))
        filler = s.pick(voice["filler"]) if s.chance(0.25) else ""
        if english and (opener or filler) and statement[:1].isupper() and not statement.startswith(("I ", "I'")):
            statement = statement[0].lower() + statement[1:]
        before = [cue for cue in cues if s.chance(0.5)]
        after = [cue for cue in cues if cue not in before] + ([s.pick(voice["emotion"])] if s.chance(0.3) else [])
        return self._join([*before, opener + filler + self._punctuate(statement, final=not after), *after])

    def _transcript(self, voice, channel, statement, cues, detail, second, vague, theme) -> str:
        s = self.s
        customer, agent = voice["customer"][0], voice["agent"][0]
        turns = []
        if s.chance(0.85):
            turns.append((agent, self._fill(s.pick(voice["greet_phone" if channel == "phone" else "greet_chat"]))))
        opening = second if second and s.chance(0.35) else None  # the other matter comes first
        if opening:
            turns.append((customer, self._punctuate(self._fill(s.pick(voice["opener"])) + opening, final=True)))
        turns.append((customer, self._customer(voice, statement, cues)))
        if s.chance(0.65 if channel == "phone" else 0.4):
            turns += [(agent, s.pick(voice["verify_ask"])), (customer, self._fill(s.pick(voice["verify_give"])))]
        if detail:
            if s.chance(0.4):
                turns.append((agent, s.pick(voice["hold"])))
            smalltalk = s.pick(voice["smalltalk"]) if s.chance(0.12) else ""
            turns.append((customer, self._join([self._punctuate(detail, final=not smalltalk), smalltalk])))
        if second and not opening:
            turns.append((customer, self._punctuate(second, final=True)))
        turns.append((agent, self._punctuate(self._answer(theme, vague), final=True)))
        if s.chance(0.4):
            turns += [(customer, s.pick(voice["followup"])), (agent, s.pick(voice["hold"]))]
        turns.append((customer, self._punctuate(s.pick(voice["customer_close"]), final=True)))
        if s.chance(0.8):
            turns.append((agent, s.pick(voice["agent_close"])))
        separator = ": " if self.lang == "en" else "："
        return "\n".join(f"{speaker}{separator}{words}" for speaker, words in turns)

    def _email(self, voice, statement, cues, detail, second) -> str:
        s = self.s
        lines = []
        if s.chance(0.8):
            topic = self._variant(s.pick(self.banks[self.reason, "topic", self.lang]))
            lines += [s.pick(voice["subject"]).format(topic=topic), ""]
        parts = (second, statement, detail) if second and s.chance(0.35) else (statement, detail, second)
        body = [*cues, *(self._punctuate(part) for part in parts if part)]
        if s.chance(0.3):
            body.append(s.pick(voice["emotion"]))
        lines += [s.pick(voice["mail_greeting"]), self._join(body), "", s.pick(voice["mail_signoff"]), s.pick(voice["names"])]
        if s.chance(0.5):
            lines.append(self._fill(s.pick(voice["mail_contact"])))
        return "\n".join(lines)

    def _store(self, voice, statement, detail) -> str:
        s = self.s
        action = s.pick(voice["store_action"])
        if self.lang == "en":
            extra = f" {self._punctuate(detail)}" if detail else ""
            return f'{s.pick(voice["store_prefix"])} "{statement}".{extra} {action.capitalize()}.'
        extra = f"{detail}，" if detail else ""
        return f"{s.pick(voice['store_prefix'])}“{statement}”，{extra}{action}。"

    def _message(self, voice, channel, statement, cues, detail, second) -> str:
        s = self.s
        prefix = s.pick(voice["social_prefix" if channel == "social" else "app_prefix"])
        first = prefix + self._join([*cues[:1], self._punctuate(statement)])
        follow = detail or second or (s.pick(voice["emotion"]) if s.chance(0.4) else None)
        return first if follow is None or s.chance(0.4) else f"{first}\n{self._punctuate(follow, final=True)}"

    def _punctuate(self, sentence: str, final: bool = False) -> str:
        """End a sentence as people type it; only the last one in a turn may run without a stop."""
        if not sentence or sentence[-1] in "。！？!?.，,…～":
            return sentence
        ends = VOICES[self.lang]["end"] if final else tuple(e for e in VOICES[self.lang]["end"] if e)
        if self.lang == "en":
            question = sentence.split(" ", 1)[0].lower() in _EN_QUESTION
            return sentence + ("?" if question and self.s.chance(0.8) else self.s.pick(ends))
        question = sentence.endswith(_ZH_QUESTION) or "怎么" in sentence or "點樣" in sentence or "怎麼" in sentence
        return sentence + ("？" if question and self.s.chance(0.7) else self.s.pick(ends))

    def _join(self, pieces) -> str:
        return (" " if self.lang == "en" else "").join(p.strip() if self.lang == "en" else p for p in pieces if p)

    def _code_switch(self, text: str, force: bool = False) -> str:
        present = [pair for pair in MIX_SWAPS if pair[0] in text]
        swapped = [pair for pair in present if self.s.chance(0.6)] or (present[:1] if force else [])
        for chinese, english in swapped:
            text = text.replace(chinese, english, 1)
        return text

    def _slip(self, text: str) -> str:
        """One typing slip: a common confusion of the script, or two letters swapped or dropped."""
        s = self.s
        family = "en" if self.lang == "en" else ("zh" if self.lang == "mix" else self.lang)
        candidates = [pair for pair in TYPOS[family] if pair[0] in text]
        if candidates and s.chance(0.6):
            right, wrong = s.pick(candidates)
            return text.replace(right, wrong, 1)
        for _ in range(5):
            i = s.integer(0, max(1, len(text) - 1))
            if text[i:i + 2].isalpha() and len(text) > 4:
                return text[:i] + text[i + 1] + text[i] + text[i + 2:] if s.chance(0.6) else text[:i] + text[i + 1:]
        return text

    def _fill(self, template: str) -> str:
        return template.format_map(self.slots) if "{" in template else template

    # -- slot values: generated formats, never real people's data
    def _slot(self, key: str) -> str:
        s, lang, region = self.s, self.lang, self.region
        english = lang == "en"
        if key == "phone":
            return self._landline() if s.chance(0.08) else self._mobile()
        if key == "id":
            return {"Hong Kong": _hk_id, "Taiwan": _tw_id}.get(region, _prc_id)(s)
        if key == "email":
            domains = EMAIL_DOMAINS.get(region, EMAIL_DOMAINS["mainland"])
            name = s.pick(EMAIL_NAMES) + (str(s.integer(1, 999)) if s.chance(0.6) else "")
            return f"{s.digits(9).lstrip('0') or '8'}@qq.com" if s.chance(0.1) else f"{name}@{s.pick(domains)}"
        if key == "card":
            return _bank_card(s)
        if key == "order":
            return f"ORD{self.day - timedelta(days=s.integer(0, 30)):%Y%m%d}{s.digits(5)}"
        if key in ("price", "small_price"):
            return self._price(key == "small_price")
        if key == "date":
            when = self.day - timedelta(days=s.integer(1, 25))
            if english:
                return s.pick((f"{when:%b} {when.day}", f"{when.day} {when:%B}", when.isoformat()))
            return s.pick((f"{when.month}月{when.day}日", f"{when.month}月{when.day}号" if lang in ("zh", "mix") else f"{when.month}月{when.day}日",
                           when.isoformat(), f"{when.month}/{when.day}"))
        if key == "gb":
            size = s.pick((1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50, 100))
            return f"{size}GB" if english or s.chance(0.6) else f"{size}G"
        if key == "speed":
            mbps = s.pick((100, 200, 300, 500, 1000))
            return s.pick((f"{mbps} Mbps", f"{mbps}Mbps")) if english else s.pick((f"{mbps}M", f"{mbps}兆"))
        if key == "months":
            return str(s.integer(2, 13))
        if key == "n":
            return str(s.integer(2, 7))
        if key == "area":
            local, english_name = s.pick(AREAS[region])
            return english_name if english else self._local(local)
        if key == "country":
            local, english_name = s.pick(COUNTRIES)
            return english_name if english else self._local(local)
        if key == "model":
            return s.pick(_ASCII_HANDSETS if english else HANDSETS)
        if key == "agent":
            return s.pick(AGENT_NAMES[lang])
        if key == "agent_no":
            return str(s.integer(1000, 10000))
        raise KeyError(key)

    def _local(self, text: str) -> str:
        config = _TRADITIONAL.get(self.lang)
        return _convert(text, config) if config else text

    def _price(self, small: bool) -> str:
        s, lang, region = self.s, self.lang, self.region
        if region == "Hong Kong":
            value = s.pick((18, 28, 38, 48, 68) if small else (148, 168, 198, 238, 298, 388, 498))
            return s.pick((f"HK${value}", f"${value}", f"{value}蚊" if lang == "hk" else f"HK$ {value}"))
        if region == "Taiwan":
            value = s.pick((50, 99, 100, 150, 199) if small else (399, 499, 599, 699, 999, 1399))
            return s.pick((f"NT${value}", f"{value}元" if lang != "en" else f"NT$ {value}"))
        value = s.pick((5, 8, 10, 15, 19, 20, 29, 30, 38, 9.9) if small else (58, 88, 99, 128, 158, 199, 238, 299, 388, 46.5))
        if lang == "en":
            return s.pick((f"¥{value}", f"RMB {value}", f"{value} yuan"))
        return s.pick((f"{value}元", f"¥{value}", f"{value}块"))

    def _mobile(self) -> str:
        s = self.s
        if self.region == "Hong Kong":
            number = s.pick("569") + s.digits(7)
            return s.pick((f"+852 {number[:4]} {number[4:]}", f"{number[:4]} {number[4:]}", number))
        if self.region == "Taiwan":
            number = "09" + s.digits(8)
            return s.pick((f"{number[:4]}-{number[4:7]}-{number[7:]}", number, f"+886 {number[1:4]} {number[4:7]} {number[7:]}"))
        number = s.pick(MAINLAND_MOBILE_PREFIXES) + s.digits(8)
        return s.pick((number, number, f"{number[:3]} {number[3:7]} {number[7:]}", f"+86 {number[:3]}-{number[3:7]}-{number[7:]}"))

    def _landline(self) -> str:
        s = self.s
        if self.region == "Hong Kong":
            return f"{s.pick('23')}{s.digits(3)} {s.digits(4)}"
        if self.region == "Taiwan":
            return f"(02) {s.integer(2, 9)}{s.digits(3)}-{s.digits(4)}"
        code = s.pick(MAINLAND_LANDLINE_CODES)
        return f"{code}-{s.integer(2, 9)}{s.digits(7 if len(code) == 3 else 6)}"


def _prc_id(s: _Stream) -> str:
    """18-digit PRC resident id with a valid ISO 7064 MOD 11-2 check character."""
    body = f"{s.pick(PRC_AREA_CODES)}{s.integer(1955, 2005)}{s.integer(1, 13):02d}{s.integer(1, 29):02d}{s.digits(3)}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def _hk_id(s: _Stream) -> str:
    """Hong Kong identity card number, e.g. A123456(7), with a valid check digit."""
    letter, digits = s.pick("ACDEGHKPRVYZ"), s.digits(6)
    total = 36 * 9 + (ord(letter) - 55) * 8 + sum(int(d) * w for d, w in zip(digits, range(7, 1, -1)))
    check = (11 - total % 11) % 11
    return f"{letter}{digits}({'A' if check == 10 else check})"


_TW_LETTERS = {"A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "H": 17, "J": 18, "K": 19, "M": 21, "N": 22, "P": 23, "R": 25, "S": 26, "T": 27}


def _tw_id(s: _Stream) -> str:
    """Taiwan national id, e.g. A123456789, with a valid check digit."""
    letter = s.pick(tuple(_TW_LETTERS))
    digits = s.pick("12") + s.digits(7)
    code = _TW_LETTERS[letter]
    total = code // 10 + (code % 10) * 9 + sum(int(d) * w for d, w in zip(digits, range(8, 0, -1)))
    return f"{letter}{digits}{(10 - total % 10) % 10}"


def _bank_card(s: _Stream) -> str:
    """A 16- or 19-digit card number that passes the Luhn check."""
    prefix = s.pick(("6222", "6228", "6217", "6225", "6214", "4367", "5187"))
    length = 19 if prefix.startswith("62") and s.chance(0.4) else 16
    body = prefix + s.digits(length - 1 - len(prefix))
    total = sum(d if i % 2 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(map(int, reversed(body))))
    number = body + str((10 - total % 10) % 10)
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4)) if s.chance(0.5) else number
