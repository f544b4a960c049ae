"""Reading tasks for their owner, and what a finished task offers for download."""

from __future__ import annotations

from yishi.core.errors import NotFoundError
from yishi.core.jobs import Task, TaskStatus, get_task_for
from yishi.modules.accounts.permissions import Actor, require


def task_of_community(community, task_id: str, *, actor: Actor) -> Task:
    require(actor, "tasks:read", community=community)
    task = get_task_for(task_id, community_id=community.id)
    if task is None:
        raise NotFoundError()
    return task


def task_view(task: Task, download_url: str | None) -> dict:
    progress, message = task.live_progress()
    return {
        "id": task.id,
        "title": task.title,
        "status": task.status,
        "progress": progress,
        "message": message,
        "error": task.error,
        "created_at": task.created_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "download_url": download_url if has_download(task) else None,
    }


def has_download(task: Task) -> bool:
    return task.status == TaskStatus.FINISHED and bool((task.result or {}).get("download"))


def download_of(task: Task) -> tuple[str, str, str]:
    """(filename, content type, text) of a finished task's file."""
    if not has_download(task):
        raise NotFoundError()
    download = task.result["download"]
    return download["filename"], download["content_type"], download["content"]
