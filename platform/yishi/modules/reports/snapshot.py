"""A street's comparison report as data: what the job computes once and every export reads.

The snapshot is plain JSON, written once and never recomputed::

    {
      "version": "2026.11-1",                        # metrics.definitions.VERSION
      "title": "...", "generated_at": ISO 8601,
      "period": {"start": ISO, "end": ISO, "label": "2026-10"},
      "street": {"slug", "name_zh", "name_en"},
      "definitions": [{"code", "name_zh", "name_en", "definition_zh", "definition_en", "unit"}],
      "communities": [{"slug", "name_zh", "name_en", "resident_count",
                       "figures": {code: number | null}}],
      "totals": {code: number | null},              # the street as one
      "rankings": [{"code", "basis": "value" | "per_100_residents",
                    "ranked": [{"slug", "value", "rank"}], "hidden": [slug, ...]}],
      "notes": [{"zh": str, "en": str}],
      "breakdowns": {"category": {slug: {category code: n}}, "channel": {slug: {channel: n}}}
    }
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from yishi.core.db import utcnow
from yishi.modules.communities.models import Community, Street
from yishi.modules.metrics import services as metrics
from yishi.modules.metrics.definitions import METRICS, RANKED, VERSION

OUTLIER_GAP = 0.15  # a rate this far below the street's is worth a note


def build(
    street: Street,
    communities: list[Community],
    start: datetime,
    end: datetime,
    *,
    title: str,
    label: str,
    progress: Callable[[int, str], None] = lambda percent, message: None,
) -> dict:
    ids = [community.id for community in communities]
    progress(10, "figures")
    per_community, totals = metrics.street_figures(ids, start, end)
    progress(65, "breakdowns")
    breakdowns = metrics.breakdowns(ids, start, end, ("category", "channel"))
    progress(80, "rankings")
    rows = [
        {
            "slug": c.slug,
            "name_zh": c.name_zh,
            "name_en": c.name_en,
            "resident_count": c.resident_count,
            "figures": per_community[c.id],
        }
        for c in communities
    ]
    return {
        "version": VERSION,
        "title": title,
        "generated_at": utcnow().isoformat(),
        "period": {"start": start.isoformat(), "end": end.isoformat(), "label": label},
        "street": {"slug": street.slug, "name_zh": street.name_zh, "name_en": street.name_en},
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
        "communities": rows,
        "totals": totals,
        "rankings": rankings(rows),
        "notes": notes(rows, totals),
        "breakdowns": {by: {c.slug: values.get(c.id, {}) for c in communities} for by, values in breakdowns.items()},
    }


def rankings(rows: list[dict]) -> list[dict]:
    """Each ranked figure, best first. Counts are compared per 100 residents; a rate, median or
    mean resting on fewer cases than its minimum sample is left out (and listed as hidden)."""
    result = []
    for metric in RANKED:
        ranked, hidden = [], []
        for row in rows:
            figures = row["figures"]
            value = figures.get(metric.code)
            sample = figures.get(metric.sample) if metric.sample else None
            if value is None or (metric.sample and (sample or 0) < metric.min_sample):
                hidden.append(row["slug"])
                continue
            if metric.per_resident:
                if not row["resident_count"]:
                    hidden.append(row["slug"])
                    continue
                value = round(value * 100 / row["resident_count"], 2)
            ranked.append({"slug": row["slug"], "value": value})
        ranked.sort(key=lambda item: item["value"], reverse=bool(metric.higher_is_better))
        previous, rank = None, 0
        for position, item in enumerate(ranked, start=1):
            if item["value"] != previous:
                rank, previous = position, item["value"]
            item["rank"] = rank  # ties share a rank
        result.append(
            {
                "code": metric.code,
                "basis": "per_100_residents" if metric.per_resident else "value",
                "ranked": ranked,
                "hidden": hidden,
            }
        )
    return result


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def notes(rows: list[dict], totals: dict) -> list[dict]:
    """Plain remarks on what stands out: rates well below the street's, communities with no meeting,
    resident groups no point serves, figures too thin to rank."""
    found = []
    street_rate = totals.get("quarter_hour_rate")
    for row in rows:
        figures, name_zh, name_en = row["figures"], row["name_zh"], row["name_en"]
        rate, cases = figures.get("quarter_hour_rate"), figures.get("first_response_cases") or 0
        if rate is not None and street_rate is not None and cases >= 10 and rate < street_rate - OUTLIER_GAP:
            found.append(
                {
                    "zh": f"{name_zh}的一刻钟响应率为{_percent(rate)}，明显低于街道整体的{_percent(street_rate)}。",
                    "en": f"{name_en} took up {_percent(rate)} of its matters within the quarter hour, well below "
                    f"the street's {_percent(street_rate)}.",
                }
            )
        if 0 < cases < 10:
            found.append(
                {
                    "zh": f"{name_zh}本期只有{cases}件事项可计算响应率，样本太少，不参与排名。",
                    "en": f"{name_en} had only {cases} matters to measure response on: too few to rank.",
                }
            )
        if figures.get("meetings_held") == 0:
            found.append({"zh": f"{name_zh}本期没有召开议事会。", "en": f"{name_en} held no meeting in the period."})
        uncovered = (figures.get("groups_total") or 0) - (figures.get("groups_covered") or 0)
        if uncovered > 0:
            found.append(
                {
                    "zh": f"{name_zh}有{uncovered}个居民小组没有议事点服务。",
                    "en": f"{name_en} has {uncovered} resident groups that no point serves.",
                }
            )
    return found
