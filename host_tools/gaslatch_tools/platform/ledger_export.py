"""The hazard ledger (隐患台账), or any list of rows under headers, as CSV, XLSX and a printable PDF, for the
district's officers: headers in Chinese with English beside them, and nothing a spreadsheet would run.

Every cell passes safe_text (odd text escaped, never refused); a CSV cell that Excel would read as a formula
gets a leading apostrophe, and an XLSX cell is always written as text, never as a formula.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
from typing import Any, BinaryIO, Iterable, Sequence

from gaslatch.core import events as E
from gaslatch.translation import N_
from gaslatch.unit.atomic_file import write_atomically
from gaslatch_tools.commission.report_pdf import CJK_FONT, LATIN_FONT, pdf_markup
from gaslatch_tools.platform import words
from gaslatch_tools.platform import work_orders as W
from gaslatch.told import Told

FORMATS = ("csv", "xlsx", "pdf")
MAX_CELL_CHARS = 32767  # Excel's limit for one cell
MAX_PDF_CELL_CHARS = 1000  # a printed cell beyond this is clipped (marked): the CSV and XLSX carry it all
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what Excel may read as a formula (OWASP: CSV injection)

# The ledger's columns: (zh, en), in order.
LEDGER_COLUMNS = (("工单", "Order"), ("预警", "Warning"), ("站点", "Site"), ("设备", "Unit"), ("等级", "Grade"),
                  ("原因", "Cause"), ("状态", "State"), ("隐患", "Hazard"), ("安全员", "Officer"),
                  ("期限", "Due"), ("逾期", "Overdue"), ("开单", "Opened"), ("关闭", "Closed"),
                  ("核查情况", "Findings"), ("处理记录", "History"))
HAZARD_TEXT = {True: "有 yes", False: "无 none", None: "待查 to check"}
OVERDUE_TEXT = "逾期 overdue"


class ExportError(Told, ValueError):
    """An export that cannot be written: which file and why."""


def header(zh: str, en: str) -> str:
    """A column header as printed: "站点 Site"."""
    return "%s %s" % (zh, en)


def when(ms: int | None, tz: datetime.tzinfo) -> str:
    if ms is None:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def ledger_table(rows: Iterable[W.LedgerRow], tz: datetime.tzinfo) -> tuple[list[str], list[list[Any]]]:
    """(headers, rows) of the ledger as every format prints it, times in tz."""
    headers = [header(zh, en) for zh, en in LEDGER_COLUMNS]
    out = []
    for r in rows:
        o = r.order
        out.append([o.id, o.warning_id, o.site, o.unit, o.grade, o.summary, words.pair(W.STATE_NAMES[o.state]),
                    HAZARD_TEXT[o.hazard], o.officer, when(o.due_ms, tz), OVERDUE_TEXT if r.overdue else "",
                    when(o.opened_ms, tz), when(o.closed_ms, tz), o.findings, r.history])
    return headers, out


def cell_text(value: Any, max_chars: int = MAX_CELL_CHARS) -> str:
    """A cell as text: None empty, odd characters escaped (safe_text), at most max_chars."""
    return "" if value is None else E.safe_text(str(value), max_chars)


def csv_cell(value: Any) -> Any:
    """A CSV cell: numbers as they are, text made safe and, when Excel would take it for a formula, quoted with
    a leading apostrophe (shown, not run)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = cell_text(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]], f) -> int:
    """Writes UTF-8 CSV with a byte-order mark (so Excel reads the Chinese) to a text file; rows written."""
    f.write("\ufeff")
    writer = csv.writer(f)
    writer.writerow([csv_cell(h) for h in headers])
    count = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
    return count


def write_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]], f: BinaryIO, title: str) -> int:
    """Writes one sheet (header row frozen, text cells never formulas) to a binary file; rows written."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = cell_text(title, 31).translate({ord(c): "_" for c in "[]:*?/\\"}) or "ledger"
    count = 0
    for y, row in enumerate([list(headers)] + [list(r) for r in rows], 1):
        for x, value in enumerate(row, 1):
            cell = sheet.cell(row=y, column=x)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.value = value
            else:
                cell.value = cell_text(value)
                cell.data_type = "s"  # openpyxl would take "=..." for a formula
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if y == 1:
                cell.font = Font(bold=True)
        count = y - 1
    sheet.freeze_panes = "A2"
    for x, text in enumerate(headers, 1):
        sheet.column_dimensions[sheet.cell(row=1, column=x).column_letter].width = max(10, min(40, len(text) * 2))
    book.save(f)
    return count


def write_pdf(headers: Sequence[str], rows: Iterable[Sequence[Any]], f: BinaryIO, title: str) -> int:
    """Writes a landscape A4 table to a binary file (Chinese in the built-in STSong-Light, as the commissioning
    report); the header row repeats on each page; rows written."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    cell = ParagraphStyle("cell", fontName=LATIN_FONT, fontSize=7, leading=9, wordWrap="CJK")
    head = ParagraphStyle("head", cell, textColor=HexColor("#1f3a5f"), wordWrap=None)  # "站点" over "Site"
    heading = ParagraphStyle("title", cell, fontSize=13, leading=17, spaceAfter=4)
    texts = [[cell_text(v, MAX_PDF_CELL_CHARS) for v in row] for row in rows]
    data = [[Paragraph(pdf_markup(cell_text(h)), head) for h in headers]]
    data += [[Paragraph(pdf_markup(text), cell) for text in row] for row in texts]
    page = landscape(A4)
    margin = 10 * mm
    width = page[0] - 2 * margin
    # Each column as wide as its header's longest word and its cells' mean length suggest, within limits.
    weights = []
    for x, h in enumerate(headers):
        mean = sum(len(row[x]) for row in texts if x < len(row)) / max(1, len(texts))
        weights.append(min(30.0, max(4.0, max(len(w) for w in cell_text(h).split() or [""]), mean / 2)))
    table = Table(data, colWidths=[width * w / sum(weights) for w in weights], repeatRows=1, splitInRow=1,
                  style=TableStyle([("GRID", (0, 0), (-1, -1), 0.4, HexColor("#999999")),
                                    ("BACKGROUND", (0, 0), (-1, 0), HexColor("#eeeeee")),
                                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2)]))

    def number(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(LATIN_FONT, 7)
        canvas.drawRightString(page[0] - margin, 6 * mm, "%d" % document.page)
        canvas.restoreState()

    document = SimpleDocTemplate(f, pagesize=page, leftMargin=margin, rightMargin=margin, topMargin=margin,
                                 bottomMargin=margin, title=cell_text(title, 200), author="gaslatch", lang="zh-CN")
    document.build([Paragraph(pdf_markup(cell_text(title, 200)), heading), Spacer(1, 2), table],
                   onFirstPage=number, onLaterPages=number)
    return len(data) - 1


def render(fmt: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str) -> tuple[bytes, int]:
    """The rows as a file's bytes in fmt (csv, xlsx or pdf), and how many rows: for a download or a file."""
    if fmt not in FORMATS:
        raise ExportError(N_("no export format %(format)r (formats: %(formats)s)"), format=fmt,
                          formats=", ".join(FORMATS))
    rows = list(rows)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        count = write_csv(headers, rows, buffer)
        return buffer.getvalue().encode("utf-8"), count
    binary = io.BytesIO()
    count = (write_xlsx if fmt == "xlsx" else write_pdf)(headers, rows, binary, title)
    return binary.getvalue(), count


def export(fmt: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], path: str | os.PathLike,
           title: str) -> int:
    """Writes the rows to path in fmt (csv, xlsx or pdf), whole or not at all; rows written."""
    content, count = render(fmt, headers, rows, title)
    try:
        write_atomically(os.fspath(path), content)  # 0640: names and findings, not for every user
    except OSError as err:
        raise ExportError(N_("cannot write %(path)s: %(error)s"), path=path, error=err.strerror or err) from None
    return count
