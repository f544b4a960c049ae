"""Categories of matters (事项分类) with their response targets, and the templates that seed them."""
