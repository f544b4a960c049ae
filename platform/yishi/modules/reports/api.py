"""REST: a street office's comparison reports — start one, follow its job, read it, download its exports."""

from __future__ import annotations

from flask import Response, url_for
from flask.views import MethodView

from yishi.core.api import PageArgsSchema, page_schema, paginate
from yishi.core.db import db
from yishi.core.storage import storage
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.communities.context import current_street, street_api
from yishi.modules.reports import services
from yishi.modules.reports.schemas import ExportArgsSchema, ReportCreateSchema, ReportSchema
from yishi.modules.reports.views import _status

blp = street_api(
    "street_reports_api",
    __name__,
    "Comparison reports (对比报告): every community of the street side by side, computed by a job, kept as a snapshot.",
)


def _describe(report, *, with_snapshot: bool) -> dict:
    status = _status(report)
    return {
        "id": report.id,
        "kind": report.kind.value,
        "title": report.title,
        "label": report.label,
        "period_start": report.period_start,
        "period_end": report.period_end,
        "status": status["status"],
        "progress": status["progress"],
        "created_at": report.created_at,
        "finished_at": report.finished_at,
        "definitions_version": report.definitions_version,
        "snapshot": report.snapshot if with_snapshot else None,
        "exports": {
            fmt: url_for(".ReportExport", report_id=report.id, fmt=fmt, _external=True)
            for fmt in ("csv", "xlsx", "pdf")
        }
        if report.snapshot
        else {},
        "url": url_for("street_reports.show", report_id=report.id, _external=True),
    }


def _period(data: dict, zone: str):
    if "month" in data:
        year, month = (int(x) for x in data["month"].split("-"))
        return services.month_period(year, month, zone)
    if "quarter" in data:
        year, quarter = data["quarter"].split("-Q")
        return services.quarter_period(int(year), int(quarter), zone)
    if "year" in data:
        return services.year_period(data["year"], zone)
    return services.custom_period(data["start"], data["end"], zone)


@blp.route("/reports")
class Reports(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(ReportSchema))
    def get(self, args):
        """The street's reports, newest first (without their snapshots)"""
        require(current_actor(), "street:read", street=current_street())
        body, headers = paginate(services.reports_statement(current_street()), args)
        body["items"] = [_describe(report, with_snapshot=False) for report in body["items"]]
        return body, headers

    @blp.arguments(ReportCreateSchema)
    @blp.response(202, ReportSchema)
    def post(self, data):
        """Start a report for a period (accepts Idempotency-Key); follow it at its URL until finished"""
        street = current_street()
        start, end, label = _period(data, street.time_zone)
        report = services.start_report(street, start, end, label, actor=current_actor())
        db.session.flush()
        return _describe(report, with_snapshot=False), {
            "Location": url_for(".ReportById", report_id=report.id, _external=True)
        }


@blp.route("/reports/<int:report_id>")
class ReportById(MethodView):
    @blp.response(200, ReportSchema)
    def get(self, report_id: int):
        """One report: its status while the job runs, then its snapshot"""
        return _describe(
            services.get_report_for(current_street(), report_id, actor=current_actor()), with_snapshot=True
        )


@blp.route("/reports/<int:report_id>/export.<any(csv, xlsx, pdf):fmt>")
class ReportExport(MethodView):
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, content_type="application/octet-stream")
    def get(self, args, report_id: int, fmt: str):
        """An export of a finished report (CSV, XLSX or PDF), in Chinese or English"""
        report = services.get_report_for(current_street(), report_id, actor=current_actor())
        stored = services.file_of(report, fmt, args["locale"])
        response = Response(storage().read(stored.storage_key), content_type=stored.content_type)
        response.headers["Content-Disposition"] = f'attachment; filename="report-{report.id}-{stored.locale}.{fmt}"'
        return response
