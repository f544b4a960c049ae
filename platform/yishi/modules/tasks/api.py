from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from yishi.modules.accounts.auth import current_actor
from yishi.modules.communities.context import community_api, current_community
from yishi.modules.tasks import services
from yishi.modules.tasks.schemas import TaskSchema

blp = community_api("tasks_api", __name__, "Background tasks started in a community, and their progress.")


@blp.route("/tasks/<task_id>")
class TaskById(MethodView):
    @blp.response(200, TaskSchema)
    def get(self, task_id: str):
        """A background task: status, progress and, when finished, its download"""
        task = services.task_of_community(current_community(), task_id, actor=current_actor())
        return services.task_view(
            task, url_for("tasks.download", community_slug=current_community().slug, task_id=task.id, _external=True)
        )
