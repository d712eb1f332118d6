"""A corpus of bad inputs, each run through ``contact-reasons run`` on a home that already holds a
good run of the day. Every kind ends one of two ways:

- a clear one-line message and exit code 1, 2 or 3, and the store and reports exactly as they were;
- a finished run where each bad row is in ``rejects.csv`` with a specific reason, every other row
  is scored, and ``rows_read = rows_scored + rows_rejected`` equals the rows the file holds.

A wrong encoding guess must never turn into silent mojibake: such cases must fail.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.config import write_config
from pipeline.demo import DEMO_END

D = DEMO_END.isoformat()
# Our own sentences (not from any data set) for the encodings the demo text cannot show.
TRADITIONAL = [
    "我的帳單金額不對，請幫我查詢一下這個月的電話費為什麼這麼多",
    "寬頻從昨天晚上開始就斷線了，已經打了三次電話還是沒有人處理",
    "請問怎麼取消國際漫遊，我下個月不出國了",
]
JAPANESE = ["請求書の金額が違います。確認してください。", "インターネットが昨日から繋がりません。"]
ENGLISH_ACCENTS = ["The café charged me twice for my naïve plan upgrade", "My résumé upload failed on your portal"]
FORMULAS = ["=HYPERLINK(\"http://x.invalid\",\"click\")", "+1 415 555 0100 called", "-2 days late", "@SUM(A1:A9)"]


@dataclass
class Case:
    kind: str
    write: Callable[[Path, pd.DataFrame], tuple[Path, int]]  # writes the input; returns it and its rows
    exit: int = 0
    message: str = ""  # regex the one-line error must match
    rejected: dict[str, int] = field(default_factory=dict)  # reason pattern -> rows
    args: tuple[str, ...] = ()
    check: Callable[[Path, pd.DataFrame], None] | None = None  # more checks on the home after the run


def csv_file(name: str = "contacts.csv", encoding: str = "utf-8", edit=None, **to_csv):
    """A writer: the good rows (changed by ``edit``) as a CSV file in ``encoding``."""

    def write(folder: Path, good: pd.DataFrame) -> tuple[Path, int]:
        frame = edit(good.copy()) if edit else good
        path = folder / name
        path.write_bytes(frame.to_csv(index=False, **to_csv).encode(encoding))
        return path, len(frame)

    return write


def raw_file(data: Callable[[pd.DataFrame], bytes] | bytes, name: str = "contacts.csv", extra_rows: int = 0):
    """A writer of ``data``: for a readable file, the good rows plus ``extra_rows`` bad ones."""

    def write(folder: Path, good: pd.DataFrame) -> tuple[Path, int]:
        path = folder / name
        path.write_bytes(data(good) if callable(data) else data)
        return path, len(good) + extra_rows

    return write


def own_texts(texts: list[str]):
    """The good rows with our own texts in place of the demo's."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame["text"] = [texts[i % len(texts)] + f" ({i})" for i in range(len(frame))]
        return frame

    return edit


def rows_with(**changes):
    """The good rows with the first few values of some columns replaced."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype(object)
        for column, values in changes.items():
            for i, value in enumerate(values):
                if value is not ...:  # ... keeps the row's value
                    frame.iloc[i, frame.columns.get_loc(column)] = value
        return frame

    return edit


def good_csv(good: pd.DataFrame, encoding: str = "utf-8", **to_csv) -> bytes:
    return good.to_csv(index=False, **to_csv).encode(encoding)


def half_utf8_half_gbk(good: pd.DataFrame) -> bytes:
    lines = good_csv(good).decode().splitlines(keepends=True)
    half = len(lines) // 2
    return "".join(lines[:half]).encode("utf-8") + "".join(lines[half:]).encode("gb18030")


def cut_in_a_character(good: pd.DataFrame) -> bytes:
    data = good_csv(good)
    return data[: data.index("的".encode(), len(data) // 2) + 1]


def cut_mid_row(good: pd.DataFrame) -> bytes:
    frame = good[["contact_id", "started_at", "channel", "text"]].copy()
    frame["text"] = "no comma here"
    data = good_csv(frame)
    return data[: data.rindex(b"\n", 0, len(data) - 1) + 12]


def unclosed_quote(good: pd.DataFrame) -> bytes:
    lines = good_csv(good[["contact_id", "started_at", "text"]].assign(text="plain")).decode().splitlines(keepends=True)
    lines[5] = lines[5].replace(",", ',"', 1)
    return "".join(lines).encode()


def extra_field(every_row: bool):
    def data(good: pd.DataFrame) -> bytes:
        lines = good_csv(good[["contact_id", "started_at", "text"]].assign(text="plain")).decode().splitlines()
        for i in range(1, len(lines)) if every_row else [7]:
            lines[i] += ",surplus"
        return ("\n".join(lines) + "\n").encode()

    return data


def jsonl(good: pd.DataFrame, broken: dict[int, str] | None = None, truncate: bool = False) -> bytes:
    lines = [json.dumps(record, ensure_ascii=False) for record in good.to_dict(orient="records")]
    for at, line in (broken or {}).items():
        lines.insert(at, line)
    text = "\n".join(lines) + "\n"
    return (text[: len(text) - 30] if truncate else text).encode()


def joined_with_bom(good: pd.DataFrame) -> bytes:
    half = len(good) // 2
    return good_csv(good.iloc[:half]) + good_csv(good.iloc[half:], "utf-8-sig")


def parquet(frame_of: Callable[[pd.DataFrame], pd.DataFrame], name: str = "contacts.parquet"):
    def write(folder: Path, good: pd.DataFrame) -> tuple[Path, int]:
        frame = frame_of(good.copy())
        path = folder / name
        # as another tool (Spark, an ETL job) writes it: no pandas metadata to restore dtypes from
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None), path)
        return path, len(frame)

    return write


def typed_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    frame["contact_id"] = range(90001, 90001 + len(frame))
    frame["started_at"] = pd.to_datetime(frame["started_at"], format="ISO8601", utc=True)
    frame["handle_time_s"] = frame["handle_time_s"].astype(str)
    return frame


def big_integer_ids(container):
    """Ids past 2**53 in an integer column with one gap (a float would round them)."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        ids = [None if i == 1 else 9007199254740993 + 2 * i for i in range(len(frame))]
        return frame.assign(contact_id=container(ids, dtype="Int64" if container is pd.array else object))

    return edit


def folder_of(files: dict[str, Callable[[pd.DataFrame], bytes]], rows: Callable[[pd.DataFrame], int] = lambda good: 0):
    def write(folder: Path, good: pd.DataFrame) -> tuple[Path, int]:
        inputs = folder / "inputs"
        inputs.mkdir()
        for name, data in files.items():
            (inputs / name).write_bytes(data(good))
        return inputs, rows(good)

    return write


def glob_of_nothing(folder: Path, good: pd.DataFrame) -> tuple[Path, int]:
    return folder / "nothing-*.csv", 0


def long_text(characters: int):
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype(object)
        frame.iloc[0, frame.columns.get_loc("text")] = ("客户：我的账单多扣了钱, \"请\"查一下。" * characters)[:characters]
        return frame

    return edit


def stored(home: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted((home / "store").glob(f"contact_date=*/batch={D}.parquet"))])


def stored_texts_are(expected: Callable[[pd.DataFrame], list[str]] | None = None):
    """The stored texts are ``expected`` (our own texts), or else those of the good run."""

    def check(home: Path, good: pd.DataFrame) -> None:
        texts = sorted(stored(home)["text"])
        assert texts == sorted(expected(good) if expected else stored(home.parent / "template")["text"])

    return check


def truncated_and_flagged(home: Path, good: pd.DataFrame) -> None:
    row = stored(home).set_index("contact_id").loc[good["contact_id"].iloc[0]]
    assert bool(row["text_truncated"]) and 0 < len(row["text"]) <= 20_000


def stored_text_contains(*pieces: str, absent: str = ""):
    def check(home: Path, good: pd.DataFrame) -> None:
        text = stored(home).set_index("contact_id").loc[good["contact_id"].iloc[0], "text"]
        assert all(piece in text for piece in pieces), text
        assert not absent or absent not in text, text

    return check


def ids_are_strings(*ids: str):
    def check(home: Path, good: pd.DataFrame) -> None:
        assert set(ids) <= set(stored(home)["contact_id"])

    return check


def formulas_escaped(home: Path, good: pd.DataFrame) -> None:
    report = home / "reports" / D
    seen = 0
    for path in report.glob("*.csv"):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        float(cell)  # only a number may start so
                    seen += cell.startswith(("'=", "'@"))
    assert "'=HYPERLINK" in (report / "review_queue.csv").read_text(encoding="utf-8-sig")
    assert "'=1+1" in (report / "rejects.csv").read_text(encoding="utf-8-sig")
    assert seen >= 3


CASES = [
    # ------------------------------------------------------------------ encodings
    Case("gbk-read-as-utf8", csv_file(encoding="gb18030"), 1, r"not valid utf-8 \(line \d+", args=("--encoding", "utf-8")),
    Case("utf8-read-as-big5", csv_file(), 1, r"is UTF-8, not big5", args=("--encoding", "big5")),
    Case("utf8-read-as-latin1", csv_file(), 1, r"is UTF-8, not latin-1", args=("--encoding", "latin-1")),
    Case("gbk-read-as-big5", csv_file(encoding="gb18030"), 1, r"big5", args=("--encoding", "big5")),
    Case("big5-read-as-gbk", csv_file(encoding="big5", edit=own_texts(TRADITIONAL)), 1, r"mojibake|not valid gbk", args=("--encoding", "gbk")),
    Case("utf16-read-as-utf8", csv_file(encoding="utf-16"), 1, r"not valid utf-8", args=("--encoding", "utf-8")),
    Case("unknown-encoding-name", csv_file(), 2, r"unknown encoding 'klingon'", args=("--encoding", "klingon")),
    Case("half-utf8-half-gbk", raw_file(half_utf8_half_gbk), 1, r"mixed encodings: line\(s\) 2, 3, 4.* are UTF-8, line\(s\) \d+"),
    Case("utf8-cut-mid-character", raw_file(cut_in_a_character), 1, r"middle of a utf-8 character.*truncated"),
    Case("shift-jis-japanese", csv_file(encoding="shift_jis", edit=own_texts(JAPANESE)), 1, r"encoding|mojibake"),
    Case("utf16-without-bom-detected", csv_file(encoding="utf-16-le"), check=stored_texts_are()),
    Case("gb18030-detected", csv_file(encoding="gb18030"), check=stored_texts_are()),
    Case("big5-detected", csv_file(encoding="big5", edit=own_texts(TRADITIONAL)), check=stored_texts_are(lambda good: list(own_texts(TRADITIONAL)(good.copy())["text"]))),
    Case("cp1252-given", csv_file(encoding="cp1252", edit=own_texts(ENGLISH_ACCENTS)), args=("--encoding", "cp1252"), check=stored_text_contains("café", "naïve")),
    Case("utf8-bom-with-explicit-utf8", csv_file(encoding="utf-8-sig"), args=("--encoding", "utf-8")),
    # ------------------------------------------------------------------ files that cannot be read
    Case("missing-required-column", csv_file(edit=lambda f: f.drop(columns=["started_at"])), 1, r"lacks required column.*started_at"),
    Case("semicolon-separated", csv_file(sep=";"), 1, r"separated by ';'"),
    Case("duplicated-headers", csv_file(edit=lambda f: f.rename(columns={"region": "channel"})), 1, r"duplicated column names \['channel'\]"),
    Case("empty-file", raw_file(b""), 1, r"empty"),
    Case("whitespace-only-file", raw_file(b"\n \r\n\t\n"), 1, r"empty"),
    Case("header-only", raw_file(b"contact_id,text,started_at\n"), 1, r"no contact rows"),
    Case("binary-garbage", raw_file(random.Random(6).randbytes(4096)), 1, r"cannot detect the file's encoding"),
    Case("gzip-garbage", raw_file(b"\x1f\x8b\x08\x00" + random.Random(7).randbytes(512)), 1, r"gzip"),
    Case("gzip-named-csv-gz", raw_file(lambda good: gzip.compress(good_csv(good)), "contacts.csv.gz"), 1, r"gzip archive: decompress"),
    Case("excel-workbook", raw_file(b"PK\x03\x04" + bytes(200), "contacts.xlsx"), 1, r"Excel"),
    Case("corrupt-parquet", raw_file(b"PAR1" + random.Random(8).randbytes(300) + b"PAR1", "contacts.parquet"), 1, r"cannot read .*contacts\.parquet"),
    Case("parquet-text-not-utf8", parquet(lambda f: f.assign(text=[b"\xff\xfe\x00bad"] * len(f))), 1, r"'text' holds binary data"),
    Case("folder-without-input-files", folder_of({"README.md": lambda good: b"# nothing here\n"}), 1, r"no input found"),
    Case("glob-matching-nothing", glob_of_nothing, 1, r"no input found"),
    Case("folder-with-one-corrupt-file", folder_of({"a.csv": good_csv, "b.csv": lambda good: random.Random(9).randbytes(999)}), 1, r"b\.csv: cannot detect"),
    Case("unclosed-quote-mid-file", raw_file(unclosed_quote), 1, r"malformed CSV"),
    Case("extra-field-in-one-row", raw_file(extra_field(every_row=False)), 1, r"Expected 3 fields in line 8, saw 4"),
    Case("extra-field-in-every-row", raw_file(extra_field(every_row=True)), 1, r"more fields than the header's 3"),
    Case("csv-cut-mid-row", raw_file(cut_mid_row), 1, r"last row has 2 of 4 fields.*truncated"),
    Case("jsonl-cut-mid-line", raw_file(lambda good: jsonl(good, truncate=True), "contacts.jsonl"), 1, r"last line \(\d+\) is cut short"),
    Case("jsonl-all-lines-broken", raw_file(b"{oops\n[1]\n", "contacts.jsonl"), 1, r"no line is a JSON object"),
    Case("everything-empty", csv_file(edit=lambda f: f.assign(contact_id="", text="  ", started_at=None)), 3, r"rows rejected .* above the tolerance"),
    # ------------------------------------------------------------------ bad rows, the rest goes on
    Case("empty-and-blank-texts", csv_file(edit=rows_with(text=["", "   \t ", "\x01\x02\x7f"])), rejected={"^empty text$": 3}),
    Case("missing-ids", csv_file(edit=rows_with(contact_id=["", " ", None])), rejected={"^missing contact_id$": 3}),
    Case("duplicate-ids-in-the-batch", csv_file(edit=lambda f: f.assign(contact_id=list(f["contact_id"].iloc[:-2]) + list(f["contact_id"].iloc[:2]))),
         rejected={r"^duplicate contact_id in this batch \(first at row [12]\)$": 2}),
    Case("ids-with-whitespace-variants", csv_file(edit=rows_with(contact_id=["A1", " A1", "A1\u3000", "A1\u200b", "\tA1 ", "\ufeffA1"])),
         rejected={r"^duplicate contact_id in this batch \(first at row 1\)$": 5}),
    Case("leading-zero-ids", csv_file(edit=rows_with(contact_id=["000123", "0042", "7.0"])), check=ids_are_strings("000123", "0042", "7.0")),
    Case("dates-in-the-future", csv_file(edit=rows_with(started_at=["2031-01-01T10:00:00+08:00", "2026-11-23T00:00:00+08:00"])),
         rejected={r"^started_at after 2026-11-21, in the future: 20(?:31|26)": 2}),
    Case("dates-with-bad-formats", csv_file(edit=rows_with(started_at=["20/11/2026 09:00", "2026-02-30T10:00:00", "yesterday", "1763600000"])),
         rejected={r"^unparseable started_at: ": 4}),
    Case("formula-looking-cells", csv_file(edit=rows_with(text=FORMULAS, contact_id=["F1", "F2", "F3", "F4", "=1+1"], started_at=[...] * 4 + ["bad"])),
         rejected={r"^unparseable started_at: bad$": 1}, check=formulas_escaped),
    Case("control-characters-and-nul", csv_file(edit=rows_with(text=["账单\x00多扣了\x07钱，请\x1b查一下"])), check=stored_text_contains("多扣了", "查一下", absent="\x00")),
    Case("embedded-newlines-and-quotes", csv_file(edit=rows_with(text=['客户：我的"宽带"坏了，\n坐席：好的，\r\n"请"稍等'])), check=stored_text_contains('"宽带"', "\n坐席")),
    Case("bom-in-the-middle-of-joined-files", raw_file(joined_with_bom, extra_rows=1), rejected={r"^a repeated header line": 1}),
    Case("bom-inside-a-text", csv_file(edit=rows_with(text=["\ufeff我的账单\ufeff多扣了钱"])), check=stored_text_contains("我的账单多扣了钱")),
    Case("crlf-line-endings", csv_file(lineterminator="\r\n"), check=stored_texts_are()),
    Case("cr-line-endings", raw_file(lambda good: good_csv(good.assign(text="plain text, one line"), lineterminator="\r")), check=stored_texts_are(lambda good: ["plain text, one line"] * len(good))),
    Case("ten-megabyte-text", csv_file(edit=long_text(10_000_000)), check=truncated_and_flagged),
    Case("one-megabyte-line-with-commas-and-quotes", csv_file(edit=long_text(1_000_000)), check=truncated_and_flagged),
    Case("jsonl-with-broken-lines", raw_file(lambda good: jsonl(good, {3: '{"contact_id": "J1", "text": oops}', 9: '["not", "an", "object"]'}), "contacts.jsonl", extra_rows=2),
         rejected={r"^line 4 is not valid JSON \(Expecting value\)$": 1, r"^line 10 is not a JSON object$": 1}),
    Case("jsonl-lone-surrogate", raw_file(lambda good: jsonl(good.assign(text=good["text"].where(good.index > 0, "坏了\\ud800吗"))).replace(b"\\\\ud800", b"\\ud800"), "contacts.jsonl"),
         check=stored_text_contains("坏了", absent="\ud800")),
    Case("parquet-with-other-types", parquet(typed_parquet), check=ids_are_strings("90001", "90002")),
    Case("parquet-big-integer-ids-with-a-gap", parquet(big_integer_ids(pd.array)), rejected={"^missing contact_id$": 1},
         check=ids_are_strings("9007199254740993", "9007199254740997")),
    Case("jsonl-big-integer-ids-with-a-gap", raw_file(lambda good: jsonl(big_integer_ids(pd.Series)(good)), "contacts.jsonl"),
         rejected={"^missing contact_id$": 1}, check=ids_are_strings("9007199254740993", "9007199254740997")),
    Case("metadata-that-is-not-numbers", csv_file(edit=rows_with(handle_time_s=["abc"], transfers=["many"], resolved=["maybe"]))),
    Case("padded-header-names", csv_file(edit=lambda f: f.rename(columns={"contact_id": " contact_id ", "text": "text\t"}))),
    Case("folder-with-different-columns", folder_of(
        {"a.csv": lambda good: good_csv(good.iloc[:10]), "b.csv": lambda good: good_csv(good.iloc[10:].drop(columns=["region", "csat"]))},
        rows=len,
    )),
]


@pytest.fixture(scope="module")
def good(demo_data) -> pd.DataFrame:
    contacts = demo_data.contacts
    return contacts[contacts["started_at"].str[:10] == D].head(40).reset_index(drop=True)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, good, model_dir):
    """A config and a home that holds a good run of the day."""
    folder = tmp_path_factory.mktemp("bad-inputs")
    # room for the bad rows of a case among 40 good ones
    config, home = write_config(folder / "pipeline.yaml", ingest={"reject_tolerance": 0.25}), folder / "home"
    source = folder / "good.csv"
    good.to_csv(source, index=False)
    assert main(["run", "--date", D, "--input", str(source), "--model", str(model_dir), "--home", str(home), "--config", str(config), "--quiet"]) == 0
    return config, home


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".run.lock"}


def test_the_corpus_has_thirty_kinds_or_more():
    assert len({case.kind for case in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.kind)
def test_bad_input_gets_a_clear_message_or_a_specific_reject(case, tmp_path, good, prepared, model_dir, capsys):
    config, template = prepared
    home = tmp_path / "home"
    shutil.copytree(template, home)
    shutil.copytree(template / "store", tmp_path / "template" / "store")
    before = files_under(home)
    source, rows = case.write(tmp_path, good)
    capsys.readouterr()
    argv = ["run", "--date", D, "--input", str(source), "--model", str(model_dir), "--home", str(home), "--config", str(config), "--quiet"]
    code = main([*argv, *case.args])
    error = capsys.readouterr().err.strip()
    assert code == case.exit, error
    if case.exit:
        assert "\n" not in error and "Traceback" not in error and "internal error" not in error, error
        assert re.search(case.message, error), error
        after = files_under(home)
        refused = after.pop(f"reports/{D}.rejects.csv", None)
        assert after == before, "a failed run changed the store or the reports"
        if case.exit == 3:
            assert len(pd.read_csv(io.BytesIO(refused), encoding="utf-8-sig")) == rows
        return
    assert error == ""
    manifest = json.loads((home / "reports" / D / "run_manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows_read"] == rows == manifest["rows_scored"] + manifest["rows_rejected"], manifest
    rejects = pd.read_csv(home / "reports" / D / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert len(rejects) == manifest["rows_rejected"] == sum(case.rejected.values()), rejects
    for pattern, count in case.rejected.items():
        assert rejects["reason_rejected"].str.contains(pattern).sum() == count, (pattern, rejects["reason_rejected"].tolist())
    assert len(stored(home)) == manifest["rows_scored"]
    if case.check:
        case.check(home, good)
