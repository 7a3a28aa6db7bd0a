"""The report as one self-contained HTML page: inline CSS, plots as PNG data URIs, nothing fetched.

It draws the blocks report.build_document lays out; the PDF renderer draws the same blocks.
"""

from __future__ import annotations

import base64
import html

from gaslatch_tools.commission.report_text import text_for

HTML_STYLE = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",
Helvetica,Arial,sans-serif;max-width:62em;margin:2em auto;padding:0 1em;color:#111;font-size:14px;line-height:1.45}
h1{font-size:1.6em;margin:.2em 0}h2.sec{font-size:1.25em;border-bottom:2px solid #333;margin-top:1.6em}
h3{font-size:1.12em;margin-top:1.4em}h4{font-size:1em;margin:1em 0 .3em}
.sub{color:#444;margin:0}.meta{color:#444;font-size:.85em}
table{border-collapse:collapse;width:100%;margin:.4em 0 .8em}
th,td{border:1px solid #999;padding:.25em .45em;text-align:left;vertical-align:top;white-space:pre-line}
th{background:#eee;font-weight:600}table.kv th{width:30%}
td.pass{color:#13631d;font-weight:600}td.fail{color:#b00020;font-weight:700;background:#fde8ea}
td.missing{color:#8a5300;font-weight:600;background:#fff4d6}td.na,td.not_tested{color:#666}
.status{border:2px solid;padding:.6em 1em;margin:1em 0}.status p{margin:.2em 0;font-weight:700}
.ready{border-color:#13631d;background:#eaf6ec}.notready{border-color:#b00020;background:#fde8ea}
.warn{border-color:#8a5300;background:#fff4d6}
code{word-break:break-all}figure{margin:.3em 0 1em}figure img{max-width:100%}figcaption{font-size:.85em;color:#444}
table.sig td{height:3.2em}p.sign{font-weight:600}p.blocked{color:#b00020}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;font-size:10.5pt}figure,table.sig,.status{break-inside:avoid}
h2,h3,h4{break-after:avoid}}
"""


def render_html(blocks: list, lang: str, meta: dict) -> str:
    """One self-contained HTML page: inline CSS, plots as PNG data URIs."""
    t = text_for(lang)
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="%s">' % ("zh-CN" if lang == "zh" else "en"), "<head>",
           '<meta charset="utf-8">', "<title>%s</title>" % esc(t("title")), "<style>%s</style>" % HTML_STYLE,
           "</head>", "<body>", "<header>", "<h1>%s</h1>" % esc(t("title")),
           '<p class="sub">%s</p>' % esc(t("subtitle")),
           '<p class="meta">%s<br>%s<br>%s<br>%s</p>' % (
               esc(t("label", t("generated"), meta["generated"])), esc(t("time_zone", meta["utc_offset"])),
               esc(t("label", t("record_file"), meta["record"])),
               esc(t("label", t("record_sha256"), meta["record_sha256"]))), "</header>"]
    heading_tags = {"h1": "h2", "h2": "h3", "h3": "h4"}

    def cell(tag: str, text: str, status: str | None = None) -> str:
        return '<%s%s>%s</%s>' % (tag, ' class="%s"' % status if status else "", esc(text), tag)

    for block in blocks:
        kind = block[0]
        if kind in heading_tags:
            css = ' class="sec"' if kind == "h1" else ""
            out.append('<%s id="%s"%s>%s</%s>' % (heading_tags[kind], esc(block[2]), css, esc(block[1]),
                                                  heading_tags[kind]))
        elif kind == "para":
            out.append("<p>%s</p>" % esc(block[1]))
        elif kind == "kv":
            out.append('<table class="kv">')
            out += ["<tr>%s%s</tr>" % (cell("th", label), cell("td", value, status))
                    for label, value, status in block[1]]
            out.append("</table>")
        elif kind == "table":
            _kind, headers, rows, widths = block
            out.append("<table><colgroup>%s</colgroup>" % "".join('<col style="width:%d%%">' % round(w * 100)
                                                                   for w in widths))
            out.append("<tr>%s</tr>" % "".join(cell("th", h) for h in headers))
            out += ["<tr>%s</tr>" % "".join(cell("td", text, status) for text, status in row) for row in rows]
            out.append("</table>")
        elif kind == "plot":
            if block[1]:
                out.append('<figure><img alt="%s" src="data:image/png;base64,%s"><figcaption>%s</figcaption></figure>'
                           % (esc(block[2]), base64.b64encode(block[1]).decode("ascii"), esc(block[2])))
            else:
                out.append('<p class="meta">%s</p>' % esc(block[2]))
        elif kind == "status":
            verdict, problems, warnings = block[1], block[2], block[3]
            if verdict.ready:
                out.append('<div class="status ready" id="ready"><p>%s</p></div>' % esc(t("ready_title")))
            else:
                out.append('<div class="status notready" id="not-ready"><p>%s</p>%s<div>%s</div></div>' % (
                    esc(t("not_ready_title")), _bullets(problems), esc(t("not_ready_hint"))))
            if warnings:
                out.append('<div class="status warn"><p>%s</p>%s</div>' % (esc(t("warnings_title")),
                                                                           _bullets(warnings)))
        elif kind == "signatures":
            out.append('<p class="%s">%s</p>' % ("sign" if block[3] else "sign blocked", esc(block[1])))
            out.append('<table class="sig"><tr>%s</tr>' % "".join(
                cell("th", h) for h in (t("col_role"), t("col_person"), t("col_signature"), t("col_date"))))
            out += ["<tr>%s<td></td><td></td><td></td></tr>" % cell("th", role) for role in block[2]]
            out.append("</table>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _bullets(lines: list) -> str:
    return "<ul>%s</ul>" % "".join("<li>%s</li>" % html.escape(line) for line in lines)
