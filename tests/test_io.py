import json
import os
import stat

import pandas as pd
import pytest

from pipeline.config import DenominatorSettings
from pipeline.errors import InputError
from pipeline.io import (
    decode_bytes,
    escape_formulas,
    find_input_files,
    iter_contacts,
    read_contacts,
    read_denominator,
    remove_leftovers,
    staged_folder,
    write_csv,
    write_json,
)

SAMPLE = "contact_id,text,started_at\nA1,我的账单不对，多扣了月租,2026-11-20T09:00:00+08:00\nA2,寬頻斷咗成日,2026-11-20T10:00:00\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_simplified_file_decodes_in_every_common_encoding(tmp_path, encoding):
    path = tmp_path / "contacts.csv"
    text = SAMPLE.replace("寬頻斷咗成日", "宽带断了一整天")
    path.write_bytes(text.encode(encoding))
    frame = read_contacts(path)
    assert frame["text"].tolist() == ["我的账单不对，多扣了月租", "宽带断了一整天"]


def test_big5_file_decodes_without_mojibake(tmp_path):
    path = tmp_path / "contacts.csv"
    text = "contact_id,text,started_at\nB1,我的帳單金額不對，請幫我查詢一下電話費,2026-11-20\n"
    path.write_bytes(text.encode("big5"))
    assert read_contacts(path)["text"].iloc[0] == "我的帳單金額不對，請幫我查詢一下電話費"


def test_wrong_explicit_encoding_is_a_clear_error(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(SAMPLE.encode("gb18030"))
    with pytest.raises(InputError, match="not valid utf-8"):
        read_contacts(path, encoding="utf-8")


def test_rows_carry_their_source_file_and_row_number(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(SAMPLE, encoding="utf-8")
    frame = read_contacts(path)
    assert frame["source_row"].tolist() == [1, 2]
    assert set(frame["source_file"]) == {"contacts.csv"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"contact_id,text\n1,a\n1,b\n", None),
        (b"contact_id,contact_id,text\n1,2,a\n", "duplicated column"),
        (b'contact_id,text\n1,"unclosed\n', "malformed"),
    ],
)
def test_unreadable_files_give_a_clear_error(tmp_path, content, message):
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    if message is None:
        assert len(read_contacts(path)) == 2
    else:
        with pytest.raises(InputError, match=message):
            read_contacts(path)


def test_jsonl_and_parquet_inputs(tmp_path):
    frame = pd.DataFrame({"contact_id": ["1", "2"], "text": ["a", "b"], "started_at": ["2026-11-20", "2026-11-20"]})
    frame.to_json(tmp_path / "c.jsonl", orient="records", lines=True, force_ascii=False)
    frame.to_parquet(tmp_path / "c.parquet")
    assert read_contacts(tmp_path / "c.jsonl")["text"].tolist() == ["a", "b"]
    assert read_contacts(tmp_path / "c.parquet")["text"].tolist() == ["a", "b"]
    assert [p.name for p in find_input_files(tmp_path)] == ["c.jsonl", "c.parquet"]


def test_missing_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no input found"):
        find_input_files(tmp_path / "nothing-*.csv")


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_formula_cells_are_escaped(cell):
    escaped = escape_formulas(pd.DataFrame({"text": [cell], "n": [-5]}))
    assert escaped["text"].iloc[0] == "'" + cell
    assert escaped["n"].iloc[0] == -5  # numbers stay numbers


@pytest.mark.parametrize("dtype", ["string", "category", object])
def test_formula_cells_are_escaped_whatever_the_text_column_type(dtype):
    escaped = escape_formulas(pd.DataFrame({"text": ["=1+1", "ok"]}, dtype=dtype))
    assert escaped["text"].tolist() == ["'=1+1", "ok"]


def test_csv_for_excel_has_a_bom_and_keeps_chinese(tmp_path):
    path = write_csv(pd.DataFrame({"名称": ["网络信号差"], "value": ["=HYPERLINK()"]}), tmp_path / "out.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "网络信号差" in raw.decode("utf-8-sig")
    assert "'=HYPERLINK()" in raw.decode("utf-8-sig")
    assert not list(tmp_path.glob(".*tmp"))


def test_json_is_written_atomically(tmp_path):
    path = write_json({"a": "中文"}, tmp_path / "m.json")
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "中文"}


def test_decode_prefers_the_decoding_with_common_characters():
    data = "請問我的帳單為什麼這麼多".encode("big5")
    text, used = decode_bytes(data)
    assert used == "big5" and text == "請問我的帳單為什麼這麼多"


def test_denominator_file_is_read_with_its_segments(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("date,region,customers\n2026-11-20,south,4000\n2026/11/20,north,6000\n", encoding="utf-8")
    table = read_denominator(DenominatorSettings(path=path))
    assert table.to_dict("records") == [
        {"date": "2026-11-20", "region": "south", "count": 4000.0},
        {"date": "2026-11-20", "region": "north", "count": 6000.0},
    ]
    assert read_denominator(None) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("day,customers\n2026-11-20,10\n", r"lacks the column\(s\) \['date'\]"),
        ("date,customers\n2026-11-20,many\n2026-11-21,5\n", r"line\(s\) 2 need a date and a count"),
        ("date,customers\nsoon,5\n", r"line\(s\) 2 need a date"),
        ("date,customers\n2026-11-20,-5\n", r"line\(s\) 2 need a date and a count of zero or more"),
        ("date,customers\n2026-11-20,5\n2026-11-20,6\n", r"more than one row for \['2026-11-20'\]"),
        ("", "empty"),
    ],
)
def test_a_bad_denominator_file_is_a_clear_input_error(tmp_path, content, message):
    path = tmp_path / "customers.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_denominator(DenominatorSettings(path=path))


def test_a_missing_denominator_file_is_a_clear_input_error(tmp_path):
    with pytest.raises(InputError, match="hotspots.denominator: input file not found"):
        read_denominator(DenominatorSettings(path=tmp_path / "nope.csv"))


def test_written_files_and_report_folders_follow_the_umask_not_private(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    path = write_csv(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    with staged_folder(tmp_path / "day") as staging:
        write_json({"a": 1}, staging / "m.json")
    assert stat.S_IMODE((tmp_path / "day").stat().st_mode) == 0o777 & ~mask


def test_a_staged_folder_replaces_the_old_one_whole_and_keeps_foreign_files(tmp_path):
    day = tmp_path / "day"
    day.mkdir()
    (day / "notes.txt").write_text("a person's notes")
    (day / "checked").mkdir()
    (day / "checked" / "review_queue.csv").write_text("filled in")
    (day / "hotspots.csv").write_text("old")
    with staged_folder(day) as staging:
        (staging / "hotspots.csv").write_text("new")
    assert (day / "hotspots.csv").read_text() == "new"
    assert (day / "notes.txt").read_text() == "a person's notes"
    assert (day / "checked" / "review_queue.csv").read_text() == "filled in"
    assert [p.name for p in tmp_path.iterdir()] == ["day"]


@pytest.fixture
def disk_events(monkeypatch):
    """What reaches the disk, in order: ("sync", path) for each fsync, ("rename", target)."""
    events = []
    fsync, replace, rename = os.fsync, os.replace, os.rename

    def synced(handle):
        events.append(("sync", os.readlink(f"/proc/self/fd/{handle}")))
        return fsync(handle)

    def renamed(real):
        def call(source, target):
            real(source, target)
            events.append(("rename", str(target)))
        return call

    monkeypatch.setattr(os, "fsync", synced)
    monkeypatch.setattr(os, "replace", renamed(replace))
    monkeypatch.setattr(os, "rename", renamed(rename))
    return events


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names open files through /proc")
def test_a_file_is_on_disk_before_its_new_name_and_the_name_after(tmp_path, disk_events):
    path = write_json({"a": 1}, tmp_path / "m.json")
    kinds = [kind for kind, _ in disk_events]
    assert kinds == ["sync", "rename", "sync"]
    assert disk_events[0][1].startswith(str(tmp_path / ".m.json.")) and disk_events[1][1] == str(path)
    assert disk_events[2][1] == str(tmp_path)  # the folder holding the rename


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names open files through /proc")
def test_a_staged_folder_is_on_disk_before_it_is_swapped_in(tmp_path, disk_events):
    (tmp_path / "day").mkdir()
    with staged_folder(tmp_path / "day") as staging:
        (staging / "sub").mkdir()
        (staging / "sub" / "a.csv").write_text("a")
        (staging / "b.csv").write_text("b")
    swap = disk_events.index(("rename", str(tmp_path / "day")))
    synced_before = {path.replace(str(staging), "") for kind, path in disk_events[:swap] if kind == "sync"}
    assert {"/sub/a.csv", "/b.csv", "/sub", ""} <= synced_before
    assert ("sync", str(tmp_path)) in disk_events[swap:]


def test_a_failed_staged_folder_leaves_the_old_one_untouched(tmp_path):
    day = tmp_path / "day"
    day.mkdir()
    (day / "hotspots.csv").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(day) as staging:
        (staging / "hotspots.csv").write_text("new")
        raise RuntimeError("stage failed")
    assert (day / "hotspots.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["day"]


def test_leftovers_of_a_killed_run_are_cleared_and_a_folder_set_aside_comes_back(tmp_path):
    (tmp_path / ".2026-11-20.replaced-abc").mkdir()
    (tmp_path / ".2026-11-20.replaced-abc" / "hotspots.csv").write_text("previous")
    (tmp_path / ".2026-11-20.staging-abc").mkdir()
    (tmp_path / ".2026-11-19.replaced-xyz").mkdir()
    (tmp_path / "2026-11-19").mkdir()
    (tmp_path / "2026-11-19" / ".trend.csv.k2j4.tmp").write_text("half")
    remove_leftovers(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "2026-11-19", "2026-11-20", "2026-11-20/hotspots.csv",
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "big5", "utf-16"])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_chunks_read_what_the_whole_file_holds(tmp_path, monkeypatch, encoding, suffix):
    import pipeline.io

    monkeypatch.setattr(pipeline.io, "SAMPLE_BYTES", 64)  # detection sees only the first lines
    rows = pd.DataFrame(
        {"contact_id": [f"C{i}" for i in range(23)], "text": [f"第{i}次打來，帳單,\n\"不對\"" for i in range(23)],
         "started_at": ["2026-11-20T09:00:00"] * 23}
    )
    path = tmp_path / f"contacts{suffix}"
    if suffix == ".csv":
        path.write_bytes(rows.to_csv(index=False).encode(encoding))
    elif suffix == ".jsonl":
        path.write_bytes(rows.to_json(orient="records", lines=True, force_ascii=False).encode(encoding))
    elif encoding == "utf-8":
        rows.to_parquet(path)
    else:
        pytest.skip("Parquet has no text encoding")
    chunks = list(iter_contacts(path, chunk_rows=5))
    assert [len(chunk) for chunk in chunks] == [5, 5, 5, 5, 3]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), read_contacts(path))


def test_a_bad_byte_after_the_detection_sample_stops_the_read_clearly(tmp_path, monkeypatch):
    import pipeline.io

    monkeypatch.setattr(pipeline.io, "SAMPLE_BYTES", 64)
    path = tmp_path / "contacts.csv"
    good = "".join(f"C{i},账单不对,2026-11-20\n" for i in range(30))
    path.write_bytes(("contact_id,text,started_at\n" + good).encode("utf-8") + "C99,帳單,2026-11-20\n".encode("big5"))
    with pytest.raises(InputError, match="not valid utf-8 after row .*--encoding"):
        list(iter_contacts(path, chunk_rows=10))


def test_store_files_read_as_scored_files_get_their_contact_date_from_the_folder(tmp_path):
    from pipeline.io import read_table

    path = tmp_path / "store" / "contact_date=2026-11-20" / "batch=2026-11-20.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"contact_id": ["A1"], "reason": ["billing"]}).to_parquet(path)
    assert read_table([path])["contact_date"].tolist() == ["2026-11-20"]


def test_an_unclosed_quote_in_the_header_is_a_clear_error(tmp_path):
    # each line break was once followed by a recount of the quotes from the start: quadratic,
    # a file of 300,000 rows hung for minutes
    path = tmp_path / "contacts.csv"
    path.write_text('"contact_id,text\n' + "".join(f"C{i},宽带断了\n" for i in range(50_000)), encoding="utf-8")
    with pytest.raises(InputError, match="malformed CSV header"):
        list(iter_contacts(path))


def test_streamed_blocks_never_cut_a_quoted_value_with_line_breaks(tmp_path, monkeypatch):
    import pipeline.io

    monkeypatch.setattr(pipeline.io, "BLOCK_CHARS", 37)  # blocks end inside most quoted values
    rows = [
        {"contact_id": f"Q{i}", "text": f'客户：第{i}次来电\n坐席："好的"，请稍等\n\n客户：还是"{"断网" * (i % 5)}"'}
        for i in range(60)
    ]
    path = tmp_path / "contacts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    streamed = pd.concat(iter_contacts(path, chunk_rows=7), ignore_index=True)
    assert streamed["contact_id"].tolist() == [r["contact_id"] for r in rows]
    assert streamed["text"].tolist() == [r["text"] for r in rows]
    assert streamed["source_row"].astype(int).tolist() == list(range(1, 61))


_HEADER = "contact_id,text,started_at\n"
_CSV_SHAPES = {
    "plain": _HEADER + "a,hello,2026-11-20\nb,world,2026-11-21\n",
    "empty and quoted empty values": _HEADER + 'a,,2026\n,,\nb,"",1\n',
    "line breaks inside quotes": _HEADER + 'a,"客户：断网\r\n坐席：""好的""",1\n',
    "windows line ends": _HEADER.replace("\n", "\r\n") + "a,x,1\r\nb,y,2\r\n",
    "old mac line ends": _HEADER.replace("\n", "\r") + "a,x,1\rb,y,2\r",
    "quote inside a value": _HEADER + 'a,ab"c,1\n',
    "text after a closing quote": _HEADER + 'a,"ab"c,1\nb," ab" ,2\n',
    "blank and blank-looking lines": _HEADER + "a,x,1\n\n   \nb,y,2\n",
    "a short row": _HEADER + "a,x\nb,y,2\n",
    "a long row": _HEADER + "a,x,1,2\n",
    "a trailing separator": _HEADER + "a,x,1,\n",
    "no final line break": _HEADER + "a,x,1",
    "a cut last row": _HEADER + "a,x,1\nb,y",
    "look-alike missing values": _HEADER + "NA,null,None\n , x ,  \n",
    "an unclosed quote": _HEADER + 'a,"x,1\nb,y,2\n',
    "a quote left open at the end": _HEADER + 'a,"x,1\n',
    "header only": _HEADER,
    "a BOM starting a record": _HEADER + "\ufeffa,x,1\n",
    "a quoted header": '"contact_id","text","started_at"\na,x,1\n',
    "a tab and a backslash": _HEADER + 'a,"x\ty\\",1\n',
}


@pytest.mark.parametrize("text", _CSV_SHAPES.values(), ids=_CSV_SHAPES.keys())
def test_arrow_reads_a_block_as_pandas_does_or_leaves_it_to_pandas(text, monkeypatch, tmp_path):
    import pipeline.io

    def parse() -> pd.DataFrame | str:
        try:
            frame = pipeline.io._parse_text(text, ".csv", tmp_path / "x.csv")
        except InputError as error:
            return str(error)
        return frame.astype(object).where(frame.notna(), None)  # as _with_source hands it on

    fast = parse()
    monkeypatch.setattr(pipeline.io, "_arrow_csv", lambda *args: None)
    slow = parse()
    if isinstance(slow, str):
        assert fast == slow
    else:
        pd.testing.assert_frame_equal(fast, slow)


def test_arrow_takes_the_regular_blocks():
    from pipeline.io import _arrow_csv

    frame = _arrow_csv('a,"客户：断网\n坐席：好的",2026-11-20\nb,,1\n', ",", 3)
    assert frame.values.tolist() == [["a", "客户：断网\n坐席：好的", "2026-11-20"], ["b", None, "1"]]
    assert _arrow_csv("a,x\nb,y,2\n", ",", 3) is None  # a short row: pandas fills it, and ingest judges it
