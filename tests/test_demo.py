"""The demo generator: deterministic, shaped like the nightly input, with the injected hotspots."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline import schemas as s
from pipeline.config import Taxonomy
from pipeline.demo import DEMO_END, DEMO_SEED, HOTSPOTS, REGIONS, DemoData, generate_demo
from pipeline.demo_phrases import VOICES
from pipeline.errors import ConfigError

DESIGN_COLUMNS = [s.CONTACT_ID, s.TEXT, s.STARTED_AT, s.CHANNEL, s.CUSTOMER_ID, s.HANDLE_TIME_S, s.WAIT_TIME_S,
                  s.TRANSFERS, s.RESOLVED, s.CSAT, s.CES]
TRADITIONAL_ONLY = r"[網寬費帳號話電們這裡說麼線嗎幫還釐換單門點]"
CANTONESE = r"[唔冇咗嘅喺哋嚟啲]"
TAIWAN_WORDS = r"網路|簡訊|門號|帳單|登入|方案|資費|攜碼|門市"
ENGLISH_WORD = r"(?<![A-Za-z])[a-z]{3,}(?![A-Za-z])"  # lower case: not an acronym such as SIM or APN
EMAIL = r"[\w.+-]+@[\w.-]+"
OUTAGE = r"邻居|隔籬|好多人|neighbours|区域|整个小区|整栋|大面积|这一片|这一带|整個|整棟|成個屋苑|呢區|光缆|neighbourhood|across our building|outage|whole estate|our street|fibre cable"
DOUBLE_CHARGE = r"两次|两笔|兩次|兩筆|重复扣|重複|两遍|一个月的月租|整整一个月租|twice|double charge|duplicate|two times|double charged"


@pytest.fixture(scope="session")
def taxonomy_file(taxonomy) -> Taxonomy:
    return taxonomy


@pytest.fixture(scope="session")
def generated(demo_data) -> DemoData:
    return demo_data


@pytest.fixture(scope="session")
def frame(generated) -> pd.DataFrame:
    """Contacts with their truth and calendar date, for counting."""
    contacts = generated.contacts.merge(generated.truth, on=s.CONTACT_ID, validate="one_to_one")
    return contacts.assign(day=pd.to_datetime(contacts[s.STARTED_AT].str[:10]).dt.date)


def daily_counts(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(["day", s.REASON]).size().unstack(fill_value=0)


# ---------------------------------------------------------------- determinism and shape


def test_same_seed_gives_identical_frames_and_another_seed_differs(generated, taxonomy_file):
    again = generate_demo(taxonomy_file, seed=DEMO_SEED)
    for name in ("contacts", "truth", "labelled"):
        pd.testing.assert_frame_equal(getattr(generated, name), getattr(again, name))
    other = generate_demo(taxonomy_file, seed=DEMO_SEED + 1)
    assert len(other.contacts) != len(generated.contacts) or not other.contacts.equals(generated.contacts)
    assert not set(other.contacts[s.TEXT].head(200)) >= set(generated.contacts[s.TEXT].head(200))


def test_about_thirty_thousand_contacts_over_eight_weeks(frame):
    assert 28_000 <= len(frame) <= 32_000
    assert frame["day"].min() == DEMO_END - timedelta(days=55)
    assert frame["day"].max() == DEMO_END
    assert frame["day"].nunique() == 56


def test_contacts_have_every_design_column_and_no_labels(generated):
    contacts = generated.contacts
    assert set(DESIGN_COLUMNS) <= set(contacts.columns)
    assert {s.REASON, s.ROOT_CAUSE}.isdisjoint(contacts.columns)
    assert {"region", "product"} <= set(contacts.columns)
    assert contacts[s.STARTED_AT].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00").all()
    assert contacts[s.STARTED_AT].is_monotonic_increasing
    assert contacts[s.TEXT].str.len().gt(0).all()


def test_contact_ids_are_unique_strings(generated):
    ids = generated.contacts[s.CONTACT_ID]
    assert ids.is_unique
    assert ids.str.fullmatch(r"C\d{8}").all()


def test_truth_covers_every_contact_with_taxonomy_ids(generated, taxonomy_file):
    truth = generated.truth
    assert list(truth.columns) == [s.CONTACT_ID, s.REASON, s.ROOT_CAUSE]
    assert truth[s.CONTACT_ID].tolist() == generated.contacts[s.CONTACT_ID].tolist()
    assert set(truth[s.REASON]) == {r.id for r in taxonomy_file.reasons}
    assert set(truth[s.ROOT_CAUSE]) <= {c.id for c in taxonomy_file.root_causes}


def test_smallest_reason_still_has_enough_daily_volume_to_test(frame):
    before = daily_counts(frame).iloc[:-7]
    assert before.mean().min() >= 8


def test_a_taxonomy_without_demo_phrases_is_refused(taxonomy_file):
    data = taxonomy_file.model_dump()
    data["reasons"][0] = {**data["reasons"][0], "id": "pet_insurance"}
    with pytest.raises(ConfigError, match="pet_insurance"):
        generate_demo(Taxonomy.model_validate(data))


# ---------------------------------------------------------------- languages and text forms


def test_language_mix_is_roughly_as_designed(generated):
    text = generated.contacts[s.TEXT]
    for tag in ("客户：", "客戶：", "Customer: "):
        assert text.str.contains(tag, regex=False).mean() > 0.05, tag
    traditional = text.str.contains(TRADITIONAL_ONLY)
    english = text.map(str.isascii)
    without_emails = text.str.replace(EMAIL, "", regex=True)
    switched = without_emails.str.contains(r"[\u4e00-\u9fff]") & without_emails.str.contains(ENGLISH_WORD)
    assert 0.14 <= traditional.mean() <= 0.30
    assert 0.14 <= english.mean() <= 0.26
    assert 0.08 <= switched.mean() <= 0.25
    assert text.str.contains(CANTONESE).mean() > 0.05
    assert text.str.contains(TAIWAN_WORDS).mean() > 0.05


def test_hong_kong_and_taiwan_wording_appears_mostly_in_those_regions(generated):
    contacts = generated.contacts
    cantonese = contacts[contacts[s.TEXT].str.contains(CANTONESE)]
    taiwanese = contacts[contacts[s.TEXT].str.contains(r"門號|簡訊|攜碼")]
    assert (cantonese["region"] == "Hong Kong").mean() > 0.8
    assert (taiwanese["region"] == "Taiwan").mean() > 0.8


def test_each_channel_has_its_own_text_form(generated):
    contacts = generated.contacts
    by_channel = {name: group[s.TEXT] for name, group in contacts.groupby(s.CHANNEL)}
    assert set(by_channel) == {"phone", "chat", "email", "store", "app", "social"}
    turns = r"^(?:客户|坐席|客戶|客服|Customer|Agent)[：:]"
    for channel in ("phone", "chat"):
        lines = by_channel[channel].str.split("\n")
        assert lines.map(len).ge(3).mean() > 0.95
        assert lines.map(lambda ls: all(re.match(turns, line) for line in ls)).all()
    assert by_channel["store"].str.contains(r"^(?:门店|营业厅|門市|分店|Store note|Shop visit)").all()
    assert not by_channel["store"].str.contains("\n").any()
    assert by_channel["email"].str.contains(r"^(?:主题|主旨|Subject)|您好|你好|客服|客戶服務部|Hi,|Hello,|Dear|To whom").all()
    assert by_channel["app"].str.count("\n").le(1).all()
    assert by_channel["social"].str.count("\n").le(1).all()


def test_agents_use_greeting_and_closing_boilerplate(generated):
    phone = generated.contacts.loc[generated.contacts[s.CHANNEL] == "phone", s.TEXT]
    assert phone.str.contains("很高兴为您服务|Thank you for calling|感谢来电").mean() > 0.2
    assert phone.str.contains("请问还有什么可以帮您|anything else").mean() > 0.1


def test_not_every_contact_names_its_reason_keyword(frame, taxonomy_file):
    text = frame[s.TEXT].str.lower()
    for reason in taxonomy_file.reasons:
        own = text[frame[s.REASON] == reason.id]
        words = [w.lower() for w in reason.keywords.zh + reason.keywords.en]
        coverage = own.map(lambda t, words=words: any(w in t for w in words)).mean()
        assert 0.4 < coverage < 0.98, (reason.id, coverage)


# ---------------------------------------------------------------- volumes and hotspots


def test_hotspot_reasons_spike_on_the_last_day_and_nothing_else_does(frame):
    counts = daily_counts(frame)
    before, last = counts.iloc[:-7].mean(), counts.iloc[-1]
    injected = {spot.reason for spot in HOTSPOTS}
    for reason in injected:
        assert last[reason] >= 2 * before[reason], reason
    for reason in set(counts.columns) - injected:
        mean = before[reason]
        assert abs(last[reason] - mean) <= 4 * np.sqrt(mean) + 0.2 * mean, (reason, last[reason], mean)


def test_hotspots_start_on_their_configured_day(frame):
    counts = daily_counts(frame)
    before = counts.iloc[:-7].mean()
    for spot in HOTSPOTS:
        days = set(spot.days(DEMO_END))
        assert len(days) == spot.start_offset + 1
        quiet_day = min(days) - timedelta(days=1)
        assert counts.loc[quiet_day, spot.reason] < 1.6 * before[spot.reason]
        for day in days:
            assert counts.loc[day, spot.reason] >= 1.8 * before[spot.reason], (spot.reason, day)


def test_regional_outage_is_concentrated_in_its_region(frame):
    spot = next(h for h in HOTSPOTS if h.region)
    assert spot.region in REGIONS
    outage = frame[frame[s.REASON] == spot.reason]
    regional = outage.groupby(["day", "region"]).size().unstack(fill_value=0)
    usual = regional.iloc[:-7].mean()
    last = regional.iloc[-1]
    assert last[spot.region] >= spot.multiplier / 2 * usual[spot.region]
    for region in set(regional.columns) - {spot.region}:
        assert last[region] <= usual[region] + 4 * np.sqrt(usual[region]) + 3


def test_hotspot_contacts_talk_about_the_incident(frame):
    for spot, pattern in ((next(h for h in HOTSPOTS if h.region), OUTAGE),
                          (next(h for h in HOTSPOTS if not h.region), DOUBLE_CHARGE)):
        rows = frame[frame[s.REASON] == spot.reason]
        if spot.region:
            rows = rows[rows["region"] == spot.region]
        during = rows[rows["day"].isin(spot.days(DEMO_END))][s.TEXT].str.contains(pattern).mean()
        before = rows[rows["day"] < DEMO_END - timedelta(days=7)][s.TEXT].str.contains(pattern).mean()
        # most contacts on hotspot days are the injected ones (x3 or x10), and most of those say so
        assert during > 0.4 and before < 0.1, (spot.reason, during, before)


def test_volumes_have_no_trend_and_a_weekday_pattern(frame):
    totals = frame.groupby("day").size()
    weekly = totals.iloc[:49].groupby(np.arange(49) // 7).sum()
    assert (weekly / weekly.mean() - 1).abs().max() < 0.05
    weekday = totals.groupby(pd.to_datetime(totals.index).dayofweek).mean()
    assert weekday[0] > 1.3 * weekday[6]


# ---------------------------------------------------------------- customers and metadata


def test_repeat_contacts_within_seven_days(frame):
    ordered = frame.assign(at=pd.to_datetime(frame[s.STARTED_AT])).sort_values("at")
    previous = ordered.groupby(s.CUSTOMER_ID).shift()
    repeat = (ordered["at"] - previous["at"]) <= pd.Timedelta(days=7)
    assert 0.12 <= repeat.mean() <= 0.18
    assert (ordered.loc[repeat, s.REASON] == previous.loc[repeat, s.REASON]).mean() > 0.5
    assert (ordered.loc[repeat, s.CHANNEL] != previous.loc[repeat, s.CHANNEL]).mean() > 0.4
    cues = "|".join(re.escape(cue) for voice in VOICES.values() for cue in voice["repeat"])
    assert ordered.loc[repeat, s.TEXT].str.contains(cues).mean() > 0.2
    assert ordered.loc[~repeat, s.TEXT].str.contains(cues).mean() < 0.02


def test_metadata_is_plausible(generated, taxonomy_file):
    contacts = generated.contacts
    queued = contacts[s.CHANNEL].isin(["phone", "chat"])
    assert contacts.loc[queued, s.WAIT_TIME_S].notna().all()
    assert contacts.loc[~queued, s.WAIT_TIME_S].isna().all()
    assert contacts[s.WAIT_TIME_S].gt(600).sum() > 100
    handle = contacts.groupby(s.CHANNEL)[s.HANDLE_TIME_S].median()
    assert handle["phone"] > handle["chat"]
    assert contacts[s.TRANSFERS].between(0, 3).all() and contacts[s.TRANSFERS].eq(0).mean() > 0.7
    assert contacts[s.CSAT].dropna().between(1, 5).all() and contacts[s.CSAT].isna().mean() > 0.6
    assert contacts[s.RESOLVED].dtype == bool


def test_eliminate_reasons_and_repeats_are_resolved_less_often(frame, taxonomy_file):
    eliminate = {r.id for r in taxonomy_file.reasons if r.customer_value < 3 and r.company_value < 3}
    leverage = {r.id for r in taxonomy_file.reasons if r.customer_value >= 3 and r.company_value >= 3}
    resolved = frame.groupby(frame[s.REASON].map(lambda r: "eliminate" if r in eliminate else
                                                 "leverage" if r in leverage else "other"))[s.RESOLVED].mean()
    assert resolved["eliminate"] < resolved["leverage"] - 0.1


def test_taxonomy_spreads_reasons_over_all_four_quadrants(taxonomy_file):
    quadrants = {(r.customer_value >= 3, r.company_value >= 3) for r in taxonomy_file.reasons}
    assert quadrants == {(True, True), (True, False), (False, True), (False, False)}
    assert 18 <= len(taxonomy_file.reasons) <= 22 and 9 <= len(taxonomy_file.root_causes) <= 11


# ---------------------------------------------------------------- generated personal data


def _prc_id_valid(number: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(number, weights)) % 11] == number[-1]


def _luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    return sum(d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(digits)) % 10 == 0


def test_texts_carry_generated_personal_data_in_valid_formats(generated):
    text = generated.contacts[s.TEXT]
    mainland_mobile = text.str.contains(r"(?<!\d)1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")
    assert mainland_mobile.mean() > 0.1
    assert text.str.contains(r"\+852 [569]\d{3} \d{4}").any()
    assert text.str.contains(r"(?<!\d)09\d{2}-\d{3}-\d{3}(?!\d)").any()
    assert text.str.contains(r"[\w.]+@[a-z0-9.]+\.(?:com|net|hk|tw)").sum() > 100
    assert text.str.contains(r"ORD\d{13}").any()
    prc_ids = text.str.findall(r"(?<![\dA-Za-z])\d{17}[\dX](?!\d)").explode().dropna()
    assert len(prc_ids) > 100 and prc_ids.map(_prc_id_valid).all()
    cards = text.str.findall(r"(?<!\d)(?:\d{4} ){3}\d{4}(?: \d{3})?(?![\d])").explode().dropna().str.replace(" ", "")
    assert len(cards) > 20 and cards.map(_luhn_valid).all()
    assert text.str.contains(r"(?<![A-Za-z])[A-Z]\d{6}\([\dA]\)").any()
    assert text.str.contains(r"(?<![A-Za-z])[A-Z][12]\d{8}(?!\d)").any()


def test_prices_dates_and_quantities_stay_readable(generated):
    text = generated.contacts[s.TEXT]
    assert text.str.contains(r"¥\d+|\d+元|HK\$\d+|NT\$\d+").mean() > 0.03
    assert text.str.contains(r"\d{1,2}月\d{1,2}[日号]|\d{4}-\d\d-\d\d").mean() > 0.01
    assert text.str.contains(r"\d+\s?GB|\d+个月").any()


# ---------------------------------------------------------------- labelled share


def test_labelled_share_is_a_quarter_of_the_weeks_before_the_hotspots(generated, frame):
    labelled = generated.labelled
    assert list(labelled.columns) == [*generated.contacts.columns, s.REASON, s.ROOT_CAUSE]
    days = pd.to_datetime(labelled[s.STARTED_AT].str[:10]).dt.date
    assert days.max() <= DEMO_END - timedelta(days=7)
    eligible = (frame["day"] <= DEMO_END - timedelta(days=7)).sum()
    assert 0.22 <= len(labelled) / eligible <= 0.28
    truth = generated.truth.set_index(s.CONTACT_ID)
    assert (truth.loc[labelled[s.CONTACT_ID], s.REASON].to_numpy() == labelled[s.REASON].to_numpy()).all()


def test_root_cause_is_usually_the_reasons_default(generated, taxonomy_file):
    default = {r.id: r.root_cause for r in taxonomy_file.reasons}
    labelled = generated.labelled
    share = (labelled[s.REASON].map(default) == labelled[s.ROOT_CAUSE]).mean()
    assert 0.85 <= share <= 0.95
