"""The hazard ledger's exports read back as an officer's tools read them: the CSV with csv (as Excel would, formulas
shown, not run), the XLSX with openpyxl, the PDF with pdftotext; Chinese headers and hostile notes readable.
"""

from __future__ import annotations

import csv
import datetime
import io
import shutil
import subprocess

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaslatch.core import events as E
from gaslatch_tools.platform import ledger_export as X
from gaslatch_tools.platform import work_orders as W
from tests.platform.test_work_orders import ACTORS, CONTACTS, DAY_MS, T0, fresh

PDFTOTEXT = shutil.which("pdftotext")
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
INJECTIONS = ["=HYPERLINK(\"http://evil.example\",\"点击\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
              "\tTAB first"]
HOSTILE_NOTE = "软管老化 hose cracked \x00 NUL \ud800 surrogate \u202e rtl"


@pytest.fixture(scope="module")
def ledger():
    """A ledger of three orders: one overdue with a hostile findings note, one with a formula as findings, one
    rectifying; (headers, rows) as the exports print them."""
    storage, (w1, w2, w3) = fresh()
    a = W.dispatch(storage, ACTORS["op"], w1, "li", "", T0 + DAY_MS, T0, contacts=CONTACTS)
    W.advance(storage, ACTORS["li"], a.id, "find", T0 + 1, note=HOSTILE_NOTE, hazard=True)
    b = W.dispatch(storage, ACTORS["op"], w2, "wang", "", T0 + 9 * DAY_MS, T0, contacts=CONTACTS)
    W.advance(storage, ACTORS["wang"], b.id, "find", T0 + 2, note=INJECTIONS[0], hazard=True)
    c = W.dispatch(storage, ACTORS["op"], w3, "zhao", "", T0 + 9 * DAY_MS, T0, contacts=CONTACTS)
    W.advance(storage, ACTORS["zhao"], c.id, "find", T0 + 3, note="阀门漏气 valve leaks", hazard=True)
    W.advance(storage, ACTORS["zhao"], c.id, "rectify", T0 + 4, due_ms=T0 + 20 * DAY_MS)
    rows = W.ledger(storage, ACTORS["op"], T0 + 2 * DAY_MS)
    storage.close()
    assert [(r.order.id, r.overdue) for r in rows] == [(a.id, True), (b.id, False), (c.id, False)]
    return X.ledger_table(rows, SHANGHAI)


def test_the_headers_are_chinese_with_english_beside():
    headers = [X.header(zh, en) for zh, en in X.LEDGER_COLUMNS]
    assert "站点 Site" in headers and "期限 Due" in headers and "处理记录 History" in headers


def test_the_csv_reads_back_with_chinese_headers_readable_notes_and_no_formula(tmp_path, ledger):
    headers, rows = ledger
    path = tmp_path / "ledger.csv"
    assert X.export("csv", headers, rows, path, "隐患台账") == 3
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with its byte-order mark
    back = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert back[0] == headers
    findings = headers.index("核查情况 Findings")
    assert back[1][findings] == E.safe_text(HOSTILE_NOTE) == (
        "软管老化 hose cracked \\x00 NUL \\ud800 surrogate \\u202e rtl")
    assert back[2][findings] == "'" + INJECTIONS[0]
    assert back[1][headers.index("逾期 Overdue")] == "逾期 overdue"
    assert back[3][headers.index("状态 State")] == "整改中 rectifying"
    assert back[1][headers.index("期限 Due")] == datetime.datetime.fromtimestamp(
        (T0 + DAY_MS) / 1000, SHANGHAI).strftime("%Y-%m-%d %H:%M")


@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(INJECTIONS), st.integers()), min_size=1,
                max_size=6))
def test_no_csv_cell_starts_as_a_formula_whatever_the_text(cells):
    f = io.StringIO(newline="")
    X.write_csv(["a"] * len(cells), [cells], f)
    row = list(csv.reader(io.StringIO(f.getvalue().lstrip("\ufeff"), newline="")))[1]
    for original, written in zip(cells, row):
        if isinstance(original, int):
            assert written == str(original)
        else:
            assert not written.startswith(X.FORMULA_STARTS)
            assert written.lstrip("'") == E.safe_text(original).lstrip("'") or written == "'" + E.safe_text(original)


def test_every_injection_gets_its_apostrophe():
    f = io.StringIO(newline="")
    X.write_csv(["h"] * len(INJECTIONS), [INJECTIONS], f)
    row = list(csv.reader(io.StringIO(f.getvalue().lstrip("\ufeff"), newline="")))[1]
    assert row[:4] == ["'" + text for text in INJECTIONS[:4]]
    assert row[4] == "\\x09TAB first"  # safe_text has escaped the tab already


def test_the_xlsx_reads_back_as_text_never_a_formula(tmp_path, ledger):
    headers, rows = ledger
    path = tmp_path / "ledger.xlsx"
    assert X.export("xlsx", headers, rows, path, "隐患台账 [ledger]") == 3
    sheet = openpyxl.load_workbook(path).active
    assert sheet.title == "隐患台账 _ledger_"
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == headers
    findings = headers.index("核查情况 Findings")
    assert values[1][findings] == E.safe_text(HOSTILE_NOTE)
    formula = sheet.cell(row=3, column=findings + 1)
    assert (formula.value, formula.data_type) == (INJECTIONS[0], "s")
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert values[1][0] == rows[0][0] and isinstance(values[1][0], int)


def test_the_pdf_prints_the_chinese_headers_and_the_hostile_note_readably(tmp_path, ledger):
    assert PDFTOTEXT, "pdftotext (poppler-utils) is needed: apt-get install poppler-utils"
    headers, rows = ledger
    path = tmp_path / "ledger.pdf"
    assert X.export("pdf", headers, rows, path, "隐患台账 hazard ledger") == 3
    assert path.read_bytes().startswith(b"%PDF-")
    text = subprocess.run([PDFTOTEXT, str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())  # a cell's lines in reading order, wherever they wrap
    for piece in ("隐患台账", "站点", "Site", "核查情况", "整改中", "逾期", "软管老化", "hosecracked",
                  "\\x00NUL", "\\ud800surrogate", "阀门漏气"):
        assert piece in flat, piece


def test_a_long_cell_is_clipped_in_the_pdf_and_kept_whole_in_the_xlsx(tmp_path):
    long_text = "长" * 1500 + "end"
    X.export("pdf", ["备注 Note"], [[long_text]] * 3, tmp_path / "long.pdf", "long")
    text = subprocess.run([PDFTOTEXT, str(tmp_path / "long.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "end" not in text and "长长长" in text
    X.export("xlsx", ["备注 Note"], [[long_text]], tmp_path / "long.xlsx", "long")
    assert openpyxl.load_workbook(tmp_path / "long.xlsx").active["A2"].value == E.safe_text(long_text,
                                                                                          X.MAX_CELL_CHARS)


def test_an_export_that_cannot_be_written_names_the_file(tmp_path):
    with pytest.raises(X.ExportError, match="cannot write .*/missing/ledger.csv"):
        X.export("csv", ["a"], [["b"]], tmp_path / "missing" / "ledger.csv", "t")
    with pytest.raises(X.ExportError, match="no export format 'doc' \\(formats: csv, xlsx, pdf\\)"):
        X.export("doc", ["a"], [["b"]], tmp_path / "x.doc", "t")
