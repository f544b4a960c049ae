"""A street comparison report's snapshot (see :mod:`.snapshot`) as CSV, Excel and PDF files.

Pure functions of the snapshot and a locale: no database, no request, no Flask context. Every label
is chosen here from the locale (Chinese unless it starts with ``en``); metric names and definitions
come from the snapshot itself, so an old report keeps the wording of the definitions version it was
computed with.

The CSV and the workbook carry raw numbers (a share is ``0.8261``, formatted as a percentage by the
cell's number format); the PDF shows them through :func:`format_value`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from xml.sax.saxutils import escape

from babel.numbers import format_decimal, format_percent

CID_FONT = "STSong-Light"  # one of Adobe's CID fonts: readers supply it, nothing is embedded
MAX_PDF_COMMUNITIES = 6  # communities per figures table in the PDF; more are split into several tables

# (Chinese, English)
LABELS = {
    "title": ("标题", "Title"),
    "street": ("街道", "Street"),
    "period": ("报告期", "Period"),
    "start": ("开始", "Start"),
    "end": ("结束", "End"),
    "version": ("定义版本", "Definitions version"),
    "generated_at": ("生成时间", "Generated at"),
    "figures": ("指标对比", "Figures"),
    "code": ("指标代码", "Code"),
    "metric": ("指标", "Metric"),
    "total": ("街道合计", "Street total"),
    "residents": ("居民数", "Residents"),
    "rankings": ("排名", "Rankings"),
    "rank": ("名次", "Rank"),
    "community": ("社区", "Community"),
    "value": ("数值", "Value"),
    "basis": ("口径", "Basis"),
    "ranked": ("排名（由好到差）", "Ranking (best first)"),
    "hidden": ("未排名", "Not ranked"),
    "hidden_reason": ("无数据或样本太少，不参与排名", "No figure, or too few cases to rank"),
    "notes": ("说明", "Notes"),
    "no_notes": ("本期没有需要特别说明的情况。", "Nothing stands out in this period."),
    "definitions": ("指标定义", "Definitions"),
    "unit": ("单位", "Unit"),
    "definition": ("定义", "Definition"),
    "category": ("分类", "Category"),
    "channel": ("渠道", "Channel"),
    "sum": ("合计", "Total"),
    "unknown": ("（未填）", "(none)"),
    "page": ("第 {n} 页", "Page {n}"),
    "to": ("至", "to"),
}
SHEETS = {
    "about": ("说明", "About"),
    "figures": ("对比", "Figures"),
    "rankings": ("排名", "Rankings"),
    "category": ("分类", "By category"),
    "channel": ("渠道", "By channel"),
    "definitions": ("定义", "Definitions"),
}
UNITS = {
    "count": ("数量", "count"),
    "share": ("比例", "share"),
    "minutes": ("分钟", "minutes"),
    "score": ("分（1–5）", "score (1-5)"),
    "per100": ("每百名居民", "per 100 residents"),
}
BASES = {"value": ("按数值", "by value"), "per_100_residents": ("按每百名居民", "per 100 residents")}
CHANNELS = {  # yishi.modules.matters.models.Channel
    "web": ("网上", "Online"),
    "qr": ("扫码", "QR code"),
    "offline": ("议事点代录", "Recorded at a point"),
    "phone": ("电话", "Phone"),
    "visit": ("走访", "Visit"),
    "api": ("政务系统", "Government system"),
}
EXCEL_FORMATS = {"count": "#,##0", "share": "0.0%", "minutes": "0", "score": "0.00", "per100": "0.0#"}
_BABEL_PATTERNS = {"count": "#,##0.##", "minutes": "#,##0", "score": "0.00", "per100": "#,##0.0#"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML, hence not in a workbook


# -- locale and values ---------------------------------------------------------------------------


def _en(locale: str | None) -> bool:
    return str(locale or "").lower().startswith("en")


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[1] if _en(locale) else pair[0]


def _t(key: str, locale: str) -> str:
    return _pick(LABELS[key], locale)


def _name(item: dict, locale: str) -> str:
    """A community's, street's or metric's name in the locale, the other language if it has none."""
    zh, en = item.get("name_zh") or "", item.get("name_en") or ""
    return (en or zh) if _en(locale) else (zh or en)


def _definition(item: dict, locale: str) -> str:
    zh, en = item.get("definition_zh") or "", item.get("definition_en") or ""
    return (en or zh) if _en(locale) else (zh or en)


def unit_name(unit: str, locale: str) -> str:
    return _pick(UNITS[unit], locale) if unit in UNITS else unit


def format_value(value: float | int | None, unit: str, locale: str = "zh_CN") -> str:
    """A figure for people to read: a share as a percentage, minutes as whole minutes, a score with
    two decimals, a count with thousands separators, a missing figure as a dash."""
    if value is None:
        return "—"
    babel_locale = "en" if _en(locale) else "zh_CN"
    if unit == "share":
        return format_percent(value, "#,##0.0%", locale=babel_locale)
    if unit == "minutes":
        return format_decimal(round(value), "#,##0", locale=babel_locale)
    return format_decimal(value, _BABEL_PATTERNS.get(unit, "#,##0.##"), locale=babel_locale)


def _when(iso: str | None) -> str:
    """An ISO 8601 timestamp as 'YYYY-MM-DD HH:MM' with its offset ('UTC' for zero)."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    text = moment.strftime("%Y-%m-%d %H:%M")
    offset = moment.utcoffset()
    if offset is None:
        return text
    if not offset:
        return f"{text} UTC"
    return f"{text} UTC{moment.strftime('%z')[:3]}:{moment.strftime('%z')[3:]}"


# -- reading the snapshot ------------------------------------------------------------------------


def _definitions(snapshot: dict) -> list[dict]:
    return list(snapshot.get("definitions") or [])


def _units(snapshot: dict) -> dict[str, str]:
    return {d["code"]: d.get("unit", "count") for d in _definitions(snapshot)}


def _communities(snapshot: dict) -> list[dict]:
    return list(snapshot.get("communities") or [])


def _community_names(snapshot: dict, locale: str) -> dict[str, str]:
    return {c["slug"]: _name(c, locale) for c in _communities(snapshot)}


def _resident_total(snapshot: dict) -> int | None:
    counts = [c.get("resident_count") for c in _communities(snapshot)]
    return sum(counts) if counts and all(n is not None for n in counts) else None


def _figure_rows(snapshot: dict, locale: str) -> list[tuple[str, str, str, list]]:
    """(code, name, unit, [value per community..., street total]) for residents and each metric."""
    communities, totals = _communities(snapshot), snapshot.get("totals") or {}
    rows = [
        (
            "resident_count",
            _t("residents", locale),
            "count",
            [c.get("resident_count") for c in communities] + [_resident_total(snapshot)],
        )
    ]
    for definition in _definitions(snapshot):
        code = definition["code"]
        values = [(c.get("figures") or {}).get(code) for c in communities] + [totals.get(code)]
        rows.append((code, _name(definition, locale), definition.get("unit", "count"), values))
    return rows


def _ranking_unit(ranking: dict, units: dict[str, str]) -> str:
    return "per100" if ranking.get("basis") == "per_100_residents" else units.get(ranking["code"], "count")


def _basis(ranking: dict, locale: str) -> str:
    basis = ranking.get("basis", "value")
    return _pick(BASES[basis], locale) if basis in BASES else basis


def _breakdown(snapshot: dict, by: str, locale: str) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Header labels and (label, [count per community..., total]) rows of one breakdown."""
    per_community = (snapshot.get("breakdowns") or {}).get(by) or {}
    communities = _communities(snapshot)
    keys = sorted({key for counts in per_community.values() for key in counts})
    rows = []
    for key in keys:
        counts = [(per_community.get(c["slug"]) or {}).get(key, 0) for c in communities]
        if not key:
            label = _t("unknown", locale)
        elif by == "channel" and key in CHANNELS:
            label = _pick(CHANNELS[key], locale)
        else:
            label = key
        rows.append((label, [*counts, sum(counts)]))
    if rows:
        columns = list(zip(*(values for _, values in rows), strict=True))
        rows.append((_t("sum", locale), [sum(column) for column in columns]))
    header = [_t(by, locale), *(_name(c, locale) for c in communities), _t("sum", locale)]
    return header, rows


def _title_block(snapshot: dict, locale: str, when: Callable[[str | None], str]) -> list[tuple[str, str]]:
    period = snapshot.get("period") or {}
    return [
        (_t("title", locale), snapshot.get("title") or ""),
        (_t("street", locale), _name(snapshot.get("street") or {}, locale)),
        (_t("period", locale), period.get("label") or ""),
        (_t("start", locale), when(period.get("start"))),
        (_t("end", locale), when(period.get("end"))),
        (_t("version", locale), snapshot.get("version") or ""),
        (_t("generated_at", locale), when(snapshot.get("generated_at"))),
    ]


def _note(note: dict, locale: str) -> str:
    return (note.get("en") or note.get("zh") or "") if _en(locale) else (note.get("zh") or note.get("en") or "")


# -- CSV -----------------------------------------------------------------------------------------


def _csv_text(value):
    """Text a spreadsheet would take for a formula gets a leading apostrophe; numbers stay as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def to_csv(snapshot: dict, locale: str = "zh_CN") -> bytes:
    """Sections one after another, a blank row between them: the title block, the figures (raw
    numbers, empty for none), rankings, the communities not ranked, notes, definitions."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def row(*cells) -> None:
        writer.writerow([_csv_text(cell) for cell in cells])

    for label, value in _title_block(snapshot, locale, lambda iso: iso or ""):
        row(label, value)

    names = _community_names(snapshot, locale)
    row()
    row(f"[{_t('figures', locale)}]")
    row(_t("code", locale), _t("metric", locale), *names.values(), _t("total", locale))
    for code, name, _unit, values in _figure_rows(snapshot, locale):
        row(code, name, *values)

    rankings = list(snapshot.get("rankings") or [])
    row()
    row(f"[{_t('rankings', locale)}]")
    row(
        _t("code", locale),
        _t("metric", locale),
        _t("rank", locale),
        _t("community", locale),
        _t("value", locale),
        _t("basis", locale),
    )
    metric_names = {d["code"]: _name(d, locale) for d in _definitions(snapshot)}
    for ranking in rankings:
        for item in ranking.get("ranked") or []:
            row(
                ranking["code"],
                metric_names.get(ranking["code"], ranking["code"]),
                item.get("rank"),
                names.get(item["slug"], item["slug"]),
                item.get("value"),
                _basis(ranking, locale),
            )
    row()
    row(f"[{_t('hidden', locale)}]")
    row(_t("code", locale), _t("metric", locale), _t("community", locale), _t("notes", locale))
    for ranking in rankings:
        for slug in ranking.get("hidden") or []:
            code = ranking["code"]
            row(code, metric_names.get(code, code), names.get(slug, slug), _t("hidden_reason", locale))

    row()
    row(f"[{_t('notes', locale)}]")
    for note in snapshot.get("notes") or []:
        row(_note(note, locale))

    row()
    row(f"[{_t('definitions', locale)}]")
    row(_t("code", locale), _t("metric", locale), _t("unit", locale), _t("definition", locale))
    for definition in _definitions(snapshot):
        unit = definition.get("unit", "count")
        row(definition["code"], _name(definition, locale), unit_name(unit, locale), _definition(definition, locale))
    return out.getvalue().encode("utf-8-sig")


# -- Excel ---------------------------------------------------------------------------------------


def _xlsx_value(value):
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)
    return value


def _put(sheet, row: int, column: int, value, number_format: str | None = None):
    cell = sheet.cell(row=row, column=column, value=_xlsx_value(value))
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"  # text from the data, never a formula
    if number_format and isinstance(value, int | float):
        cell.number_format = number_format
    return cell


def _display_width(value) -> int:
    text = str(value if value is not None else "")
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)


def _fit_columns(sheet, widths: dict[int, float] | None = None, cap: int = 40) -> None:
    from openpyxl.utils import get_column_letter

    widths = widths or {}
    longest: dict[int, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            value = cell.value
            if isinstance(value, float):
                value = f"{value:.2f}"
            longest[cell.column] = max(longest.get(cell.column, 0), _display_width(value))
    for column, width in longest.items():
        sheet.column_dimensions[get_column_letter(column)].width = widths.get(column, min(max(width + 2, 8), cap))


def _header(sheet, row: int, labels: Iterable[str]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="E8EEF4")
    for column, label in enumerate(labels, start=1):
        cell = _put(sheet, row, column, label)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)


def _sheet_number(value, unit: str):
    if value is None:
        return None
    if unit == "minutes":
        return int(round(value))
    return value


def to_xlsx(snapshot: dict, locale: str = "zh_CN") -> bytes:
    """A workbook with one sheet per section; figures are numeric cells with a number format per unit."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    names = _community_names(snapshot, locale)
    units = _units(snapshot)

    about = workbook.active
    about.title = _pick(SHEETS["about"], locale)
    line = 0
    for line, (label, value) in enumerate(_title_block(snapshot, locale, _when), start=1):
        _put(about, line, 1, label).font = Font(bold=True)
        _put(about, line, 2, value)
    line += 2
    _put(about, line, 1, _t("notes", locale)).font = Font(bold=True)
    notes = [_note(note, locale) for note in snapshot.get("notes") or []] or [_t("no_notes", locale)]
    for offset, text in enumerate(notes):
        _put(about, line + offset, 2, text).alignment = Alignment(wrap_text=True, vertical="top")
    _fit_columns(about, {2: 90})

    figures = workbook.create_sheet(_pick(SHEETS["figures"], locale))
    _header(figures, 1, [_t("code", locale), _t("metric", locale), *names.values(), _t("total", locale)])
    for line, (code, name, unit, values) in enumerate(_figure_rows(snapshot, locale), start=2):
        _put(figures, line, 1, code)
        _put(figures, line, 2, name)
        for column, value in enumerate(values, start=3):
            _put(figures, line, column, _sheet_number(value, unit), EXCEL_FORMATS.get(unit))
    figures.freeze_panes = "C2"
    _fit_columns(figures, cap=24)

    rankings = workbook.create_sheet(_pick(SHEETS["rankings"], locale))
    _header(
        rankings,
        1,
        [
            _t("code", locale),
            _t("metric", locale),
            _t("basis", locale),
            _t("rank", locale),
            _t("community", locale),
            _t("value", locale),
            _t("notes", locale),
        ],
    )
    metric_names = {d["code"]: _name(d, locale) for d in _definitions(snapshot)}
    line = 1
    for ranking in snapshot.get("rankings") or []:
        code, unit = ranking["code"], _ranking_unit(ranking, units)
        entries = [(item, None) for item in ranking.get("ranked") or []]
        entries += [({"slug": slug}, _t("hidden_reason", locale)) for slug in ranking.get("hidden") or []]
        for item, remark in entries:
            line += 1
            _put(rankings, line, 1, code)
            _put(rankings, line, 2, metric_names.get(code, code))
            _put(rankings, line, 3, _basis(ranking, locale))
            _put(rankings, line, 4, item.get("rank"))
            _put(rankings, line, 5, names.get(item["slug"], item["slug"]))
            _put(rankings, line, 6, _sheet_number(item.get("value"), unit), EXCEL_FORMATS.get(unit))
            _put(rankings, line, 7, remark)
    rankings.freeze_panes = "A2"
    _fit_columns(rankings)

    for by in ("category", "channel"):
        sheet = workbook.create_sheet(_pick(SHEETS[by], locale))
        header, rows = _breakdown(snapshot, by, locale)
        _header(sheet, 1, header)
        for line, (label, counts) in enumerate(rows, start=2):
            _put(sheet, line, 1, label)
            for column, count in enumerate(counts, start=2):
                _put(sheet, line, column, count, EXCEL_FORMATS["count"])
        sheet.freeze_panes = "B2"
        _fit_columns(sheet, cap=24)

    definitions = workbook.create_sheet(_pick(SHEETS["definitions"], locale))
    _header(
        definitions,
        1,
        [_t("code", locale), _t("metric", locale), _t("unit", locale), _t("definition", locale), _t("version", locale)],
    )
    for line, definition in enumerate(_definitions(snapshot), start=2):
        _put(definitions, line, 1, definition["code"])
        _put(definitions, line, 2, _name(definition, locale))
        _put(definitions, line, 3, unit_name(definition.get("unit", "count"), locale))
        _put(definitions, line, 4, _definition(definition, locale)).alignment = Alignment(wrap_text=True)
        _put(definitions, line, 5, snapshot.get("version") or "")
    definitions.freeze_panes = "C2"
    _fit_columns(definitions, {4: 80})

    workbook.properties.title = snapshot.get("title") or None
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# -- PDF -----------------------------------------------------------------------------------------


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))


def to_pdf(snapshot: dict, locale: str = "zh_CN") -> bytes:
    """A4 landscape: title, street and period, the figures (at most six communities per table),
    rankings, notes and the written definitions with their version; version and page on each page."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    wrap = None if _en(locale) else "CJK"
    body = ParagraphStyle("body", fontName=CID_FONT, fontSize=9, leading=12.5, wordWrap=wrap)
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11)
    head = ParagraphStyle("head", parent=cell, textColor=colors.HexColor("#1F3A5F"))
    title_style = ParagraphStyle("title", parent=body, fontSize=17, leading=23, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12.5, leading=17, spaceBefore=10, spaceAfter=5, keepWithNext=1)

    def p(text, style=cell) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    margin = 14 * mm
    page_width, page_height = landscape(A4)
    width = page_width - 2 * margin
    grid = [
        ("FONTNAME", (0, 0), (-1, -1), CID_FONT),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#B8C2CC")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]

    def table(rows: list[list], widths: list[float], extra: list | None = None) -> Table:
        result = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
        result.setStyle(TableStyle(grid + (extra or [])))
        return result

    colon, gap, opening, closing = (": ", "    ", " (", ")") if _en(locale) else ("：", "　　", "（", "）")
    story: list = []
    street, period = snapshot.get("street") or {}, snapshot.get("period") or {}
    version = snapshot.get("version") or ""
    story.append(p(snapshot.get("title") or "", title_style))
    story.append(
        p(
            f"{_t('street', locale)}{colon}{_name(street, locale)}{gap}{_t('period', locale)}{colon}"
            f"{period.get('label') or ''}{opening}{_when(period.get('start'))} {_t('to', locale)} "
            f"{_when(period.get('end'))}{closing}",
            body,
        )
    )
    story.append(
        p(
            f"{_t('version', locale)}{colon}{version}{gap}"
            f"{_t('generated_at', locale)}{colon}{_when(snapshot.get('generated_at'))}",
            body,
        )
    )

    story.append(p(_t("figures", locale), h2))
    communities = _communities(snapshot)
    figure_rows = _figure_rows(snapshot, locale)
    chunks = [communities[i : i + MAX_PDF_COMMUNITIES] for i in range(0, len(communities), MAX_PDF_COMMUNITIES)]
    name_width = 62 * mm
    for index, chunk in enumerate(chunks or [[]]):
        first = index * MAX_PDF_COMMUNITIES
        count = len(chunk)
        column_width = min((width - name_width) / (count + 1), 38 * mm)
        rows = [
            [
                p(_t("metric", locale), head),
                *(p(_name(c, locale), head) for c in chunk),
                p(_t("total", locale), head),
            ]
        ]
        for _code, name, unit, values in figure_rows:
            shown = values[first : first + count] + [values[-1]]
            # Figures are short: plain strings drawn by the table, not Paragraphs (laying out thousands of
            # Paragraphs was most of a large report's PDF time).
            rows.append([p(name), *(format_value(v, unit, locale) for v in shown)])
        numbers = [("ALIGN", (1, 1), (-1, -1), "RIGHT"), ("FONTSIZE", (1, 1), (-1, -1), 8.5)]
        # a table that fits on a page is not split across two
        widths = [name_width] + [column_width] * (count + 1)
        story.append(KeepTogether([table(rows, widths, numbers), Spacer(1, 4 * mm)]))

    story.append(p(_t("rankings", locale), h2))
    units, names = _units(snapshot), _community_names(snapshot, locale)
    metric_names = {d["code"]: _name(d, locale) for d in _definitions(snapshot)}
    separator = "; " if _en(locale) else "；"
    rows = [[p(_t(key, locale), head) for key in ("metric", "basis", "ranked", "hidden")]]
    for ranking in snapshot.get("rankings") or []:
        unit = _ranking_unit(ranking, units)
        ranked = separator.join(
            f"{item.get('rank')}. {names.get(item['slug'], item['slug'])} "
            f"{format_value(item.get('value'), unit, locale)}"
            for item in ranking.get("ranked") or []
        )
        hidden = ("," if _en(locale) else "、").join(names.get(s, s) for s in ranking.get("hidden") or [])
        code = ranking["code"]
        rows.append([p(metric_names.get(code, code)), p(_basis(ranking, locale)), p(ranked or "—"), p(hidden or "—")])
    story.append(table(rows, [56 * mm, 32 * mm, width - 56 * mm - 32 * mm - 62 * mm, 62 * mm]))
    story.append(Spacer(1, 1.5 * mm))
    story.append(p(f"{_t('hidden', locale)}{colon}{_t('hidden_reason', locale)}", cell))

    notes = [_note(note, locale) for note in snapshot.get("notes") or []]
    story.append(p(_t("notes", locale), h2))
    bullet = ParagraphStyle("bullet", parent=body, leftIndent=10, bulletIndent=0)
    for text in notes or [_t("no_notes", locale)]:
        story.append(Paragraph(escape(text), bullet, bulletText="•"))

    story.append(p(f"{_t('definitions', locale)}{opening}{_t('version', locale)} {version}{closing}", h2))
    rows = [[p(_t(key, locale), head) for key in ("metric", "unit", "definition")]]
    for definition in _definitions(snapshot):
        unit = definition.get("unit", "count")
        rows.append([p(_name(definition, locale)), p(unit_name(unit, locale)), p(_definition(definition, locale))])
    story.append(table(rows, [56 * mm, 32 * mm, width - 88 * mm]))

    footer = f"{snapshot.get('title') or ''}  |  {_t('version', locale)} {version}"

    def decorate(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(CID_FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#5A6670"))
        canvas.drawString(margin, 8 * mm, footer)
        canvas.drawRightString(page_width - margin, 8 * mm, _t("page", locale).format(n=document.page))
        canvas.restoreState()

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=snapshot.get("title") or "",
        author=_name(street, locale),
        subject=period.get("label") or "",
    )
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()


# -- dispatch ------------------------------------------------------------------------------------


FORMATS: dict[str, tuple[str, Callable[[dict, str], bytes]]] = {
    "csv": ("text/csv; charset=utf-8", to_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
    "pdf": ("application/pdf", to_pdf),
}


def export(snapshot: dict, fmt: str, locale: str = "zh_CN") -> tuple[bytes, str]:
    """(content, content type) of the snapshot in a format of :data:`FORMATS`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    content_type, render = FORMATS[fmt]
    return render(snapshot, locale), content_type


def filename(snapshot: dict, fmt: str) -> str:
    """An ASCII file name for a download: street slug, period label and the format's extension."""
    street = (snapshot.get("street") or {}).get("slug") or "street"
    label = (snapshot.get("period") or {}).get("label") or "report"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{street}-{label}").strip("-") or "report"
    return f"{stem}.{fmt}"
