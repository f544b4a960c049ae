"""Every figure Yishi reports, defined once, in words, with a version shown on every report.

Peers' dashboards disagreed with their own statistics pages because each page counted in its own
way. Here a figure is computed only by :mod:`yishi.modules.metrics.services`, from these
definitions; a change of meaning is a new ``VERSION``.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "2026.11-1"

# A rate or a median over fewer cases than this is shown but never ranked: one matter resolved in
# four minutes must not put a community at the top.
MIN_SAMPLE = 10
MIN_RATINGS = 5


@dataclass(frozen=True)
class Metric:
    code: str
    name_zh: str
    name_en: str
    definition_zh: str
    definition_en: str
    unit: str  # count, share, minutes, score, per100
    higher_is_better: bool | None = None  # None: not ranked
    sample: str | None = None  # the figure counting the cases it rests on
    min_sample: int = 0
    per_resident: bool = False  # ranked per 100 residents, not as a raw count

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh

    def definition(self, locale: str) -> str:
        return self.definition_en if locale.startswith("en") else self.definition_zh


METRICS: tuple[Metric, ...] = (
    Metric(
        "matters_raised", "反映事项数", "Matters raised",
        "报告期内提交的事项数（任何渠道），不含撤回的。",
        "Matters submitted in the period on any channel, withdrawn ones excluded.",
        "count", True, per_resident=True,
    ),
    Metric(
        "matters_resolved", "办结事项数", "Matters resolved",
        "报告期内办结的事项数（办结时间在报告期内，含之后已结案的）。",
        "Matters resolved in the period (their resolution time falls in it), including those since closed.",
        "count", True, per_resident=True,
    ),
    Metric(
        "matters_closed", "结案事项数", "Matters closed",
        "报告期内结案的事项数（居民确认或到期自动结案）。",
        "Matters closed in the period, confirmed by the reporter or closed automatically.",
        "count",
    ),
    Metric(
        "quarter_hour_rate", "一刻钟响应率", "Quarter-hour rate",
        "报告期内提交的事项中，在首次响应时限内被受理的比例。分母：已受理的事项，加上未受理但已超过时限的事项。",
        "Of the matters submitted in the period, the share taken up within their first-response target. "
        "Denominator: matters taken up, plus those not taken up whose target has passed.",
        "share", True, sample="first_response_cases", min_sample=MIN_SAMPLE,
    ),
    Metric(
        "first_response_cases", "响应样本数", "First-response cases",
        "一刻钟响应率的分母。", "The denominator of the quarter-hour rate.", "count",
    ),
    Metric(
        "accept_minutes_median", "受理用时中位数", "Median minutes to take up",
        "报告期内受理的事项，从提交到受理的分钟数的中位数（最近秩法）。",
        "Median minutes from submission to being taken up, over matters taken up in the period (nearest rank).",
        "minutes", False, sample="accepted", min_sample=MIN_SAMPLE,
    ),
    Metric(
        "accept_minutes_p90", "受理用时90分位", "90th percentile minutes to take up",
        "同上，第90百分位（最近秩法）。", "As above, the 90th percentile (nearest rank).",
        "minutes", False, sample="accepted", min_sample=MIN_SAMPLE,
    ),
    Metric("accepted", "受理事项数", "Matters taken up", "报告期内受理的事项数。",
           "Matters taken up in the period.", "count"),
    Metric(
        "resolve_minutes_median", "办结用时中位数", "Median minutes to resolve",
        "报告期内办结的事项，从提交到办结的分钟数的中位数（最近秩法）。",
        "Median minutes from submission to resolution, over matters resolved in the period (nearest rank).",
        "minutes", False, sample="matters_resolved", min_sample=MIN_SAMPLE,
    ),
    Metric(
        "resolve_minutes_p90", "办结用时90分位", "90th percentile minutes to resolve",
        "同上，第90百分位（最近秩法）。", "As above, the 90th percentile (nearest rank).",
        "minutes", False, sample="matters_resolved", min_sample=MIN_SAMPLE,
    ),
    Metric(
        "resolution_rate", "按时办结率", "Resolved within target",
        "报告期内办结的事项中，在办结时限内办结的比例。",
        "Of the matters resolved in the period, the share resolved within their resolution target.",
        "share", True, sample="matters_resolved", min_sample=MIN_SAMPLE,
    ),
    Metric(
        "satisfaction_mean", "满意度均值", "Mean satisfaction",
        "报告期内居民评价（1–5分）的平均分。", "Mean of the residents' ratings (1-5) given in the period.",
        "score", True, sample="satisfaction_count", min_sample=MIN_RATINGS,
    ),
    Metric("satisfaction_count", "评价数", "Ratings", "报告期内的评价数。", "Ratings given in the period.", "count"),
    Metric(
        "participants", "参与居民数", "Distinct participants",
        "报告期内以任何方式参与的不同居民人数（反映事项、参加议事会、线上发表意见、参与解决、参与遴选），每人只计一次。",
        "Different people who took part in any way in the period (raised a matter, attended a meeting, "
        "commented, volunteered, took part in a selection), each counted once.",
        "count", True, per_resident=True,
    ),
    Metric(
        "participants_per_100", "每百名居民参与人数", "Participants per 100 residents",
        "参与居民数 ÷ 社区居民数 × 100。", "Distinct participants ÷ residents × 100.", "per100", True,
    ),
    Metric(
        "meetings_held", "议事活动场次", "Meetings held",
        "报告期内开始并已召开的议事会场次。", "Deliberation meetings that started in the period and took place.",
        "count", True, per_resident=True,
    ),
    Metric(
        "groups_covered", "议事点覆盖的居民小组", "Resident groups covered",
        "报告生成时，有启用的议事点服务的居民小组数。",
        "Resident groups served by an active point when the report is made.",
        "count",
    ),
    Metric("groups_total", "居民小组数", "Resident groups", "居民小组总数。", "All resident groups.", "count"),
    Metric(
        "disputes_mediated", "调解纠纷数", "Disputes mediated",
        "报告期内办结的矛盾调解类事项数。", "Dispute matters resolved in the period.", "count", True, per_resident=True,
    ),
    Metric(
        "agreements_reached", "达成协议数", "Agreements reached",
        "报告期内办结的矛盾调解中，当事人达成协议的数量。",
        "Of the disputes resolved in the period, those where the parties reached an agreement.", "count",
    ),
)  # fmt: skip

BY_CODE = {metric.code: metric for metric in METRICS}
RANKED = tuple(metric for metric in METRICS if metric.higher_is_better is not None)
