"""The report as an A4 PDF with reportlab: Chinese in the built-in STSong-Light font, so no font file is needed.

It draws the blocks report.build_document lays out, and marks every page while the record may not be signed.
"""

from __future__ import annotations

import html
import io
from typing import Any, Callable

from gaslatch_tools.commission.report_judge import FAIL, MISSING, NA, NOT_TESTED, PASS
from gaslatch_tools.commission.report_text import text_for

LATIN_FONT = "Helvetica"
CJK_FONT = "STSong-Light"
STATUS_COLOURS = {PASS: ("#13631d", None), FAIL: ("#b00020", "#fde8ea"), MISSING: ("#8a5300", "#fff4d6"),
                  NA: ("#666666", None), NOT_TESTED: ("#666666", None)}


def _encodes(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _font_for(char: str) -> str | None:
    """The built-in font that draws char: Helvetica for cp1252, STSong-Light (Adobe-GB1) for the GBK repertoire
    within the BMP; None when neither does."""
    if _encodes(char, "cp1252"):
        return LATIN_FONT
    if ord(char) <= 0xFFFF and _encodes(char, "gbk"):
        return CJK_FONT
    return None


def pdf_markup(text: str) -> str:
    """Paragraph markup: Latin runs in the style's Helvetica, Chinese runs in STSong-Light, the rest as '?'."""
    runs: list = []
    for char in text:
        if char == "\n":
            runs.append((None, "<br/>"))
            continue
        if char == "\t" or (ord(char) < 32):
            char = " "
        font = _font_for(char)
        face = CJK_FONT if font == CJK_FONT else None
        piece = html.escape(char, quote=False) if font else "?"
        if runs and runs[-1][0] == face and runs[-1][1] != "<br/>":
            runs[-1] = (face, runs[-1][1] + piece)
        else:
            runs.append((face, piece))
    return "".join('<font face="%s">%s</font>' % (face, piece) if face else piece for face, piece in runs)


def _has_cjk(text: str) -> bool:
    return any(_font_for(char) != LATIN_FONT for char in text)


class _PdfStyles:
    """Paragraph styles; a CJK variant (breaks between any two characters) for text with Chinese in it."""

    def __init__(self):
        from reportlab.lib.colors import HexColor
        from reportlab.lib.styles import ParagraphStyle

        # STSong-Light has no bold face: headings differ by size and colour, so Latin and Chinese match.
        base = ParagraphStyle("body", fontName=LATIN_FONT, fontSize=9, leading=12.5)
        heading = HexColor("#1f3a5f")
        self.styles = {
            "body": base,
            "small": ParagraphStyle("small", base, fontSize=7.5, leading=9.5, textColor=HexColor("#444444")),
            "cell": ParagraphStyle("cell", base, fontSize=8, leading=10.5),
            "head": ParagraphStyle("head", base, fontSize=8, leading=10.5),
            "title": ParagraphStyle("title", base, fontSize=17, leading=22, spaceAfter=2, textColor=heading),
            "h1": ParagraphStyle("h1", base, fontSize=13, leading=17, spaceBefore=10, spaceAfter=4, textColor=heading),
            "h2": ParagraphStyle("h2", base, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=3, textColor=heading),
            "h3": ParagraphStyle("h3", base, fontSize=9.5, leading=12.5, spaceBefore=5, spaceAfter=2,
                                 textColor=heading),
            "status": ParagraphStyle("status", base, fontSize=11, leading=15),
        }
        self.cjk = {name: ParagraphStyle(name + "-cjk", style, wordWrap="CJK") for name, style in self.styles.items()}

    def para(self, text: str, style: str = "body", colour: str | None = None):
        from reportlab.platypus import Paragraph

        markup = pdf_markup(text)
        if colour:
            markup = '<font color="%s">%s</font>' % (colour, markup)
        return Paragraph(markup, (self.cjk if _has_cjk(text) else self.styles)[style])


def _pdf_table(styles: _PdfStyles, headers: list | None, rows: list, widths: list, width_pt: float,
               label_column: bool = False, row_height_pt: float | None = None):
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Table, TableStyle

    data, commands = [], [("GRID", (0, 0), (-1, -1), 0.5, HexColor("#999999")),
                          ("VALIGN", (0, 0), (-1, -1), "TOP"),
                          ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                          ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]
    if headers:
        data.append([styles.para(h, "head") for h in headers])
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HexColor("#eeeeee")))
    for row in rows:
        y = len(data)
        cells = []
        for x, (text, status) in enumerate(row):
            colour, background = STATUS_COLOURS.get(status, (None, None))
            style = "head" if (label_column and x == 0) or status in (FAIL, MISSING) else "cell"
            cells.append(styles.para(text, style, colour))
            if background:
                commands.append(("BACKGROUND", (x, y), (x, y), HexColor(background)))
        data.append(cells)
    if label_column:
        commands.append(("BACKGROUND", (0, 1 if headers else 0), (0, -1), HexColor("#f4f4f4")))
    heights = None if row_height_pt is None else [None] * (1 if headers else 0) + [row_height_pt] * len(rows)
    return Table(data, colWidths=[w * width_pt for w in widths], rowHeights=heights, repeatRows=1 if headers else 0,
                 style=TableStyle(commands), hAlign="LEFT", splitInRow=1)


def render_pdf(blocks: list, lang: str, meta: dict, ready: bool) -> bytes:
    """An A4 PDF: Chinese in STSong-Light (a built-in CID font, no font file), Latin in Helvetica."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import SimpleDocTemplate, Spacer

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    t = text_for(lang)
    styles = _PdfStyles()
    margin = 16 * mm
    width = A4[0] - 2 * margin
    story: list = [styles.para(t("title"), "title"), styles.para(t("subtitle"), "body"), Spacer(1, 3),
                   styles.para("%s · %s" % (t("label", t("generated"), meta["generated"]),
                                            t("time_zone", meta["utc_offset"])), "small"),
                   styles.para(t("label", t("record_file"), meta["record"]), "small"),
                   styles.para(t("label", t("record_sha256"), meta["record_sha256"]), "small")]
    story += _pdf_story(blocks, styles, t, width)
    footer = "%s  ·  %s %s…" % (t("title"), t("record_sha256"), meta["record_sha256"][:16])

    def decorate(canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setFont(LATIN_FONT, 7)
        canvas.setFillColor(HexColor("#555555"))
        _draw_mixed(canvas, margin, 9 * mm, footer, 7)
        text = t("page", page, pages)
        canvas.setFont(CJK_FONT if _has_cjk(text) else LATIN_FONT, 7)
        canvas.drawRightString(A4[0] - margin, 9 * mm, text)
        if not ready:
            canvas.setFillColor(HexColor("#b00020"))
            _draw_mixed(canvas, margin, A4[1] - 10 * mm, t("draft_mark"), 9)
        canvas.restoreState()

    class NumberedCanvas(Canvas):
        """Draws 'page N of M' once the page count is known."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._pages: list = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number_, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                decorate(self, number_, len(self._pages))
                super().showPage()
            super().save()

    pdf = io.BytesIO()
    document = SimpleDocTemplate(pdf, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=15 * mm,
                                 bottomMargin=15 * mm, title=t("title"), author="gaslatch",
                                 lang="zh-CN" if lang == "zh" else "en")
    document.build(story, canvasmaker=NumberedCanvas)
    return pdf.getvalue()


def _pdf_story(blocks: list, styles: _PdfStyles, t: Callable[..., str], width: float) -> list:
    """The flowables: each heading kept on one page with what follows it, up to the next heading, if it fits."""
    from reportlab.platypus import KeepTogether, Spacer

    story: list = []
    headings: list = []
    body: list = []

    def flush() -> None:
        story.append(KeepTogether(headings + body))

    for block in blocks:
        if block[0] in ("h1", "h2", "h3"):
            if body:
                flush()
                headings, body = [], []
            headings.append(styles.para(block[1], block[0]))
            continue
        body += _pdf_flowables(block, styles, t, width) + [Spacer(1, 4)]
    if headings or body:
        flush()
    return story


def _pdf_flowables(block: tuple, styles: _PdfStyles, t: Callable[..., str], width: float) -> list:
    """One block of the document as reportlab flowables."""
    from reportlab.platypus import Image, Spacer

    kind = block[0]
    if kind == "para":
        return [styles.para(block[1])]
    if kind == "kv":
        rows = [[(label, None), (value, status)] for label, value, status in block[1]]
        return [_pdf_table(styles, None, rows, [0.3, 0.7], width, label_column=True)]
    if kind == "table":
        return [_pdf_table(styles, block[1], block[2], list(block[3]), width)]
    if kind == "plot":
        if not block[1]:
            return [styles.para(block[2], "small")]
        image = Image(io.BytesIO(block[1]))
        scale = width * 0.98 / image.imageWidth
        image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
        return [image, styles.para(block[2], "small")]
    if kind == "status":
        verdict, problems, warnings = block[1], block[2], block[3]
        if verdict.ready:
            inner = [styles.para(t("ready_title"), "status", "#13631d")]
            colours = ("#13631d", "#eaf6ec")
        else:
            inner = [styles.para(t("not_ready_title"), "status", "#b00020")]
            inner += [styles.para("•  " + p) for p in problems] + [Spacer(1, 3), styles.para(t("not_ready_hint"))]
            colours = ("#b00020", "#fde8ea")
        out = [_boxed(inner, width, colours)]
        if warnings:
            inner = [styles.para(t("warnings_title"), "h3")] + [styles.para("•  " + w) for w in warnings]
            out += [Spacer(1, 4), _boxed(inner, width, ("#8a5300", "#fff4d6"))]
        return out
    if kind == "signatures":
        rows = [[(role, None), ("", None), ("", None), ("", None)] for role in block[2]]
        table = _pdf_table(styles, [t("col_role"), t("col_person"), t("col_signature"), t("col_date")], rows,
                           [0.28, 0.22, 0.3, 0.2], width, label_column=True, row_height_pt=34)
        return [styles.para(block[1], "body", None if block[3] else "#b00020"), Spacer(1, 5), table]
    return []


def _boxed(inner: list, width: float, colours: tuple) -> Any:
    """Flowables in a coloured box (border colour, background)."""
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Table, TableStyle

    return Table([[inner]], colWidths=[width], style=TableStyle([
        ("BOX", (0, 0), (-1, -1), 1.5, HexColor(colours[0])), ("BACKGROUND", (0, 0), (-1, -1), HexColor(colours[1])),
        ("LEFTPADDING", (0, 0), (-1, -1), 8), ("RIGHTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 7)]))


def _draw_mixed(canvas: Any, x: float, y: float, text: str, size: float) -> None:
    """One line on the page canvas, switching to STSong-Light for Chinese characters."""
    for char in text:
        font = _font_for(char)
        face = font or CJK_FONT
        char = char if font else "?"
        canvas.setFont(face, size)
        canvas.drawString(x, y, char)
        x += canvas.stringWidth(char, face, size)

