import marshmallow as ma

from yishi.core.jobs import TaskStatus
from yishi.core.schemas import Integer


class TaskSchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Enum(TaskStatus, by_value=True)
    progress = Integer()
    message = ma.fields.String()
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    started_at = ma.fields.AwareDateTime(allow_none=True)
    finished_at = ma.fields.AwareDateTime(allow_none=True)
    download_url = ma.fields.String(allow_none=True)
