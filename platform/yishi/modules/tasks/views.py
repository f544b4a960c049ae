from __future__ import annotations

from flask import Response, g, jsonify, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from yishi.modules.accounts.auth import current_actor
from yishi.modules.communities.context import community_pages
from yishi.modules.tasks import services
from yishi.modules.tasks.schemas import TaskSchema

blueprint = community_pages("tasks", __name__)


@blueprint.app_context_processor
def _labels():
    return {
        "task_status_labels": {
            "queued": _("queued"),
            "running": _("running"),
            "finished": _("finished"),
            "failed": _("failed"),
        }
    }


def _view(task_id: str) -> tuple:
    task = services.task_of_community(g.community, task_id, actor=current_actor())
    return task, services.task_view(task, url_for("tasks.download", task_id=task.id))


@blueprint.route("/tasks/<task_id>")
@login_required
def show(task_id: str):
    task, view = _view(task_id)
    return render_template("tasks/show.html", task=view)


@blueprint.route("/tasks/<task_id>.json")
@login_required
def poll(task_id: str):
    _task, view = _view(task_id)
    return jsonify(TaskSchema().dump(view))


@blueprint.route("/tasks/<task_id>/download")
@login_required
def download(task_id: str):
    task, _view_data = _view(task_id)
    filename, content_type, content = services.download_of(task)
    response = Response(content, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
