"""Exports of a street comparison report: a snapshot dict (shape in reports/snapshot.py) as CSV, Excel
and PDF, read back with csv, openpyxl and pypdf. No database: the snapshot is built by hand."""

from __future__ import annotations

import copy
import csv
import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from yishi.modules.metrics.definitions import METRICS, VERSION
from yishi.modules.reports import exports
from yishi.modules.reports.exports import export, format_value, to_csv, to_pdf, to_xlsx

COMMUNITIES = [
    ("shilipu", "十里铺社区", "Shilipu Community", 2400),
    ("donghu", "东湖社区", "Donghu Community", 1800),
    ("chunfeng", "春风社区", "Chunfeng Community", None),  # no resident count, thin figures
]


def _figures(**values) -> dict:
    figures = {metric.code: 0 for metric in METRICS}
    figures.update(values)
    return figures


def _snapshot() -> dict:
    figures = {
        "shilipu": _figures(
            matters_raised=46,
            matters_resolved=40,
            matters_closed=35,
            quarter_hour_rate=0.8261,
            first_response_cases=46,
            accept_minutes_median=12,
            accept_minutes_p90=38,
            accepted=44,
            resolve_minutes_median=2890,
            resolve_minutes_p90=9120,
            resolution_rate=0.875,
            satisfaction_mean=4.42,
            satisfaction_count=31,
            participants=212,
            participants_per_100=8.8,
            meetings_held=3,
            groups_covered=6,
            groups_total=6,
            disputes_mediated=4,
            agreements_reached=3,
        ),
        "donghu": _figures(
            matters_raised=25,
            matters_resolved=19,
            matters_closed=17,
            quarter_hour_rate=0.6,
            first_response_cases=25,
            accept_minutes_median=31,
            accept_minutes_p90=95,
            accepted=22,
            resolve_minutes_median=4015,
            resolve_minutes_p90=12000,
            resolution_rate=0.7368,
            satisfaction_mean=3.9,
            satisfaction_count=12,
            participants=87,
            participants_per_100=4.8,
            meetings_held=1,
            groups_covered=3,
            groups_total=5,
            disputes_mediated=1,
            agreements_reached=1,
        ),
        "chunfeng": _figures(
            matters_raised=4,
            matters_resolved=2,
            matters_closed=1,
            quarter_hour_rate=0.5,
            first_response_cases=4,
            accept_minutes_median=None,
            accept_minutes_p90=None,
            accepted=2,
            resolve_minutes_median=None,
            resolve_minutes_p90=None,
            resolution_rate=None,
            satisfaction_mean=None,
            satisfaction_count=0,
            participants=9,
            participants_per_100=None,
            meetings_held=0,
            groups_covered=2,
            groups_total=4,
        ),
    }
    totals = _figures(
        matters_raised=75,
        matters_resolved=61,
        matters_closed=53,
        quarter_hour_rate=0.7333,
        first_response_cases=75,
        accept_minutes_median=17,
        accept_minutes_p90=72,
        accepted=68,
        resolve_minutes_median=3300.5,
        resolve_minutes_p90=11020,
        resolution_rate=0.8197,
        satisfaction_mean=4.28,
        satisfaction_count=43,
        participants=305,
        participants_per_100=None,
        meetings_held=4,
        groups_covered=11,
        groups_total=15,
        disputes_mediated=5,
        agreements_reached=4,
    )
    return {
        "version": VERSION,
        "title": "2026年10月社区议事对比报告",
        "generated_at": "2026-11-02T01:30:00+00:00",
        "period": {"start": "2026-10-01T00:00:00+08:00", "end": "2026-11-01T00:00:00+08:00", "label": "2026-10"},
        "street": {"slug": "chengnan", "name_zh": "城南街道", "name_en": "Chengnan Street"},
        "definitions": [
            {
                "code": m.code,
                "name_zh": m.name_zh,
                "name_en": m.name_en,
                "definition_zh": m.definition_zh,
                "definition_en": m.definition_en,
                "unit": m.unit,
            }
            for m in METRICS
        ],
        "communities": [
            {"slug": slug, "name_zh": zh, "name_en": en, "resident_count": residents, "figures": figures[slug]}
            for slug, zh, en, residents in COMMUNITIES
        ],
        "totals": totals,
        "rankings": [
            {
                "code": "quarter_hour_rate",
                "basis": "value",
                "ranked": [
                    {"slug": "shilipu", "value": 0.8261, "rank": 1},
                    {"slug": "donghu", "value": 0.6, "rank": 2},
                ],
                "hidden": ["chunfeng"],
            },
            {
                "code": "matters_raised",
                "basis": "per_100_residents",
                "ranked": [{"slug": "shilipu", "value": 1.92, "rank": 1}, {"slug": "donghu", "value": 1.39, "rank": 2}],
                "hidden": ["chunfeng"],
            },
            {
                "code": "accept_minutes_median",
                "basis": "value",
                "ranked": [{"slug": "shilipu", "value": 12, "rank": 1}, {"slug": "donghu", "value": 31, "rank": 2}],
                "hidden": ["chunfeng"],
            },
        ],
        "notes": [
            {
                "zh": "春风社区本期只有4件事项可计算响应率，样本太少，不参与排名。",
                "en": "Chunfeng Community had only 4 matters to measure response on: too few to rank.",
            },
            {"zh": "春风社区本期没有召开议事会。", "en": "Chunfeng Community held no meeting in the period."},
        ],
        "breakdowns": {
            "category": {
                "shilipu": {"environment": 20, "safety": 14, "neighbours": 12},
                "donghu": {"environment": 15, "neighbours": 10},
                "chunfeng": {"safety": 4},
            },
            "channel": {
                "shilipu": {"web": 30, "qr": 10, "visit": 6},
                "donghu": {"web": 20, "phone": 5},
                "chunfeng": {"offline": 3, "": 1},
            },
        },
    }


@pytest.fixture
def snapshot() -> dict:
    return _snapshot()


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- values ------------------------------------------------------------------------------------------


def test_format_value_by_unit():
    assert format_value(0.8261, "share", "zh_CN") == "82.6%"
    assert format_value(1, "share", "en") == "100.0%"
    assert format_value(12.6, "minutes", "zh_CN") == "13"
    assert format_value(3300.5, "minutes", "en") == "3,300"  # half to even, as round() does
    assert format_value(1234, "count", "en") == "1,234"
    assert format_value(4.2, "score", "zh_CN") == "4.20"
    assert format_value(8.8, "per100", "zh_CN") == "8.8"
    assert format_value(1.92, "per100", "en") == "1.92"
    assert format_value(None, "share", "zh_CN") == "—"
    assert format_value(0, "count", "zh_CN") == "0"


def test_export_dispatches_on_format(snapshot):
    for fmt, (content_type, render) in exports.FORMATS.items():
        content, returned_type = export(snapshot, fmt, "zh_CN")
        assert returned_type == content_type
        assert content[:4] == render(snapshot, "zh_CN")[:4]
    assert export(snapshot, "pdf", "zh_CN")[0].startswith(b"%PDF")
    assert export(snapshot, "xlsx", "zh_CN")[0].startswith(b"PK")
    assert exports.FORMATS["csv"][0] == "text/csv; charset=utf-8"
    with pytest.raises(ValueError):
        export(snapshot, "docx", "zh_CN")
    assert exports.filename(snapshot, "xlsx") == "chengnan-2026-10.xlsx"


# --- CSV ---------------------------------------------------------------------------------------------


def _csv_sections(content: bytes) -> tuple[list[list[str]], dict[str, list[list[str]]]]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    blocks: list[list[list[str]]] = [[]]
    for row in rows:
        if not any(row):
            blocks.append([])
        else:
            blocks[-1].append(row)
    head, *rest = blocks
    return head, {block[0][0]: block[1:] for block in rest if block}


def test_csv_round_trips_figures_as_numbers(snapshot):
    content = to_csv(snapshot, "zh_CN")
    assert content.startswith(b"\xef\xbb\xbf")
    head, sections = _csv_sections(content)
    about = dict(head)
    assert about["标题"] == snapshot["title"]
    assert about["街道"] == "城南街道"
    assert about["报告期"] == "2026-10"
    assert about["定义版本"] == VERSION
    assert about["开始"] == snapshot["period"]["start"]

    header, *rows = sections["[指标对比]"]
    assert header == ["指标代码", "指标", "十里铺社区", "东湖社区", "春风社区", "街道合计"]
    by_code = {row[0]: row for row in rows}
    assert set(by_code) == {"resident_count"} | {m.code for m in METRICS}
    assert by_code["quarter_hour_rate"][1] == "一刻钟响应率"
    assert by_code["resident_count"][2:] == ["2400", "1800", "", ""]  # no total when a count is missing
    for metric in METRICS:
        row = by_code[metric.code]
        expected = [c["figures"][metric.code] for c in snapshot["communities"]] + [snapshot["totals"][metric.code]]
        for cell, value in zip(row[2:], expected, strict=True):
            if value is None:
                assert cell == ""
            else:
                assert float(cell) == value, (metric.code, cell, value)
    assert by_code["quarter_hour_rate"][2] == "0.8261"  # a raw share, not "83%"
    assert by_code["accept_minutes_median"][4] == ""


def test_csv_rankings_hidden_notes_and_definitions(snapshot):
    _head, sections = _csv_sections(to_csv(snapshot, "zh_CN"))
    header, *ranked = sections["[排名]"]
    assert header == ["指标代码", "指标", "名次", "社区", "数值", "口径"]
    assert ["quarter_hour_rate", "一刻钟响应率", "1", "十里铺社区", "0.8261", "按数值"] in ranked
    assert ["matters_raised", "反映事项数", "2", "东湖社区", "1.39", "按每百名居民"] in ranked
    assert not any(row[3] == "春风社区" for row in ranked)

    _header, *hidden = sections["[未排名]"]
    assert [row[:3] for row in hidden] == [
        ["quarter_hour_rate", "一刻钟响应率", "春风社区"],
        ["matters_raised", "反映事项数", "春风社区"],
        ["accept_minutes_median", "受理用时中位数", "春风社区"],
    ]

    assert sections["[说明]"] == [[note["zh"]] for note in snapshot["notes"]]

    header, *definitions = sections["[指标定义]"]
    assert header == ["指标代码", "指标", "单位", "定义"]
    rate = next(row for row in definitions if row[0] == "quarter_hour_rate")
    assert rate == ["quarter_hour_rate", "一刻钟响应率", "比例", snapshot["definitions"][3]["definition_zh"]]
    assert len(definitions) == len(METRICS)


def test_csv_in_english(snapshot):
    head, sections = _csv_sections(to_csv(snapshot, "en"))
    assert dict(head)["Street"] == "Chengnan Street"
    header, *rows = sections["[Figures]"]
    assert header == ["Code", "Metric", "Shilipu Community", "Donghu Community", "Chunfeng Community", "Street total"]
    assert next(row for row in rows if row[0] == "quarter_hour_rate")[1] == "Quarter-hour rate"
    assert sections["[Notes]"][1] == ["Chunfeng Community held no meeting in the period."]
    assert "十里铺社区" not in to_csv(snapshot, "en").decode("utf-8-sig")


# --- Excel -------------------------------------------------------------------------------------------


def _workbook(content: bytes):
    return load_workbook(io.BytesIO(content))


def _rows_by_code(sheet) -> dict[str, tuple]:
    return {row[0].value: row for row in sheet.iter_rows(min_row=2)}


def test_xlsx_sheets_and_numeric_cells(snapshot):
    book = _workbook(to_xlsx(snapshot, "zh_CN"))
    assert book.sheetnames == ["说明", "对比", "排名", "分类", "渠道", "定义"]

    figures = book["对比"]
    assert [cell.value for cell in figures[1]] == ["指标代码", "指标", "十里铺社区", "东湖社区", "春风社区", "街道合计"]
    assert figures.freeze_panes == "C2"
    rows = _rows_by_code(figures)
    rate = rows["quarter_hour_rate"]
    assert rate[1].value == "一刻钟响应率"
    assert rate[2].value == pytest.approx(0.8261)
    assert rate[2].data_type == "n"
    assert rate[2].number_format == "0.0%"
    assert rate[5].value == pytest.approx(0.7333)
    median = rows["resolve_minutes_median"]
    assert median[5].value == 3300 and isinstance(median[5].value, int)  # minutes as whole numbers
    assert median[4].value is None  # 春风社区 has none
    for metric in METRICS:
        row = rows[metric.code]
        expected = [c["figures"][metric.code] for c in snapshot["communities"]] + [snapshot["totals"][metric.code]]
        for cell, value in zip(row[2:], expected, strict=True):
            if value is None:
                assert cell.value is None
            else:
                assert cell.data_type == "n", (metric.code, cell.value)
                assert cell.value == pytest.approx(round(value) if metric.unit == "minutes" else value)
    assert figures.column_dimensions["B"].width >= 10


def test_xlsx_about_rankings_breakdowns_definitions(snapshot):
    book = _workbook(to_xlsx(snapshot, "zh_CN"))
    about = [[cell.value for cell in row] for row in book["说明"].iter_rows()]
    assert ["标题", snapshot["title"]] in about
    assert ["定义版本", VERSION] in about
    assert ["报告期", "2026-10"] in about
    assert ["开始", "2026-10-01 00:00 UTC+08:00"] in about
    texts = {cell for row in about for cell in row if cell}
    assert {note["zh"] for note in snapshot["notes"]} <= texts

    rankings = [[cell.value for cell in row] for row in book["排名"].iter_rows(min_row=2)]
    assert ["quarter_hour_rate", "一刻钟响应率", "按数值", 1, "十里铺社区", 0.8261, None] in rankings
    hidden = [row for row in rankings if row[4] == "春风社区"]
    assert len(hidden) == 3 and all(row[3] is None and row[5] is None and row[6] for row in hidden)
    share_cell = next(row for row in book["排名"].iter_rows(min_row=2) if row[0].value == "quarter_hour_rate")[5]
    assert share_cell.number_format == "0.0%"

    channel = {row[0]: row[1:] for row in book["渠道"].iter_rows(min_row=2, values_only=True)}
    assert channel["网上"] == (30, 20, 0, 50)
    assert channel["（未填）"] == (0, 0, 1, 1)
    assert channel["合计"] == (46, 25, 4, 75)
    category = {row[0]: row[1:] for row in book["分类"].iter_rows(min_row=2, values_only=True)}
    assert category["safety"] == (14, 0, 4, 18)
    assert book["分类"].freeze_panes == "B2"

    definitions = _rows_by_code(book["定义"])
    row = definitions["quarter_hour_rate"]
    assert [cell.value for cell in row] == [
        "quarter_hour_rate",
        "一刻钟响应率",
        "比例",
        snapshot["definitions"][3]["definition_zh"],
        VERSION,
    ]


def test_xlsx_in_english(snapshot):
    book = _workbook(to_xlsx(snapshot, "en"))
    assert book.sheetnames == ["About", "Figures", "Rankings", "By category", "By channel", "Definitions"]
    header = [cell.value for cell in book["Figures"][1]]
    assert header[2:] == ["Shilipu Community", "Donghu Community", "Chunfeng Community", "Street total"]
    assert _rows_by_code(book["Figures"])["quarter_hour_rate"][1].value == "Quarter-hour rate"
    assert "Online" in {row[0] for row in book["By channel"].iter_rows(min_row=2, values_only=True)}


def test_text_that_looks_like_a_formula_stays_text(snapshot):
    snapshot["communities"][0]["name_zh"] = '=HYPERLINK("http://example.com","点我")'
    figures = _workbook(to_xlsx(snapshot, "zh_CN"))["对比"]
    assert figures["C1"].data_type == "s"
    assert figures["C1"].value == '=HYPERLINK("http://example.com","点我")'
    _head, sections = _csv_sections(to_csv(snapshot, "zh_CN"))
    assert sections["[指标对比]"][0][2] == '\'=HYPERLINK("http://example.com","点我")'


# --- PDF ---------------------------------------------------------------------------------------------


def _pdf_text(content: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_text_holds_names_figures_and_definitions(snapshot):
    reader, text = _pdf_text(to_pdf(snapshot, "zh_CN"))
    page = reader.pages[0]
    assert page.mediabox.width > page.mediabox.height  # landscape
    assert round(float(page.mediabox.width)) == 842 and round(float(page.mediabox.height)) == 595  # A4
    fonts = {str(font["/BaseFont"]) for font in page["/Resources"]["/Font"].values()}
    assert any("STSong-Light" in font for font in fonts)

    flat = _squash(text)
    for name in ("十里铺社区", "东湖社区", "春风社区", "城南街道", snapshot["title"], "街道合计", "一刻钟响应率"):
        assert name in flat, name
    assert "82.6%" in flat and "73.3%" in flat  # shares as percentages
    assert "3,300" in flat  # minutes as whole minutes
    assert "—" in flat  # no figure
    assert _squash(snapshot["definitions"][3]["definition_zh"]) in flat  # the written definition
    assert VERSION in flat
    assert _squash(snapshot["notes"][0]["zh"]) in flat
    assert "1.十里铺社区82.6%" in flat  # the ranking, best first
    assert reader.metadata.title == snapshot["title"]


def test_pdf_splits_many_communities_into_tables_of_six(snapshot):
    template = snapshot["communities"][0]
    snapshot["communities"] = [
        {**copy.deepcopy(template), "slug": f"c{n}", "name_zh": f"第{n}号社区", "name_en": f"Community {n}"}
        for n in range(1, 10)
    ]
    _reader, text = _pdf_text(to_pdf(snapshot, "zh_CN"))
    flat = _squash(text)
    assert all(f"第{n}号社区" in flat for n in range(1, 10))
    assert flat.count("街道合计") == 2  # two tables, each with the street's column, neither split over pages
    assert flat.index("第6号社区") < flat.index("街道合计") < flat.index("第7号社区")


def test_pdf_in_english(snapshot):
    _reader, text = _pdf_text(to_pdf(snapshot, "en"))
    flat = _squash(text)
    for name in ("ShilipuCommunity", "DonghuCommunity", "ChunfengCommunity", "ChengnanStreet", "Streettotal"):
        assert name in flat, name
    assert _squash(snapshot["definitions"][3]["definition_en"]) in flat
    assert VERSION in flat
    assert "十里铺社区" not in flat
    assert "Quarter-hourrate" in flat


def test_pdf_escapes_markup_in_text(snapshot):
    snapshot["title"] = "对比 <b>报告</b> & 附表"
    _reader, text = _pdf_text(to_pdf(snapshot, "zh_CN"))
    assert "对比<b>报告</b>&附表" in _squash(text)
