"""REST: a community's categories and their targets."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from yishi.core.api import PageArgsSchema, page_schema, paginate
from yishi.core.db import db
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.categories import services
from yishi.modules.categories.schemas import ApplyTemplateSchema, CategorySchema, CategoryUpdateSchema
from yishi.modules.communities.context import community_api, current_community

blp = community_api("categories_api", __name__, "Categories of matters (事项分类) and their response targets.")


@blp.route("/categories")
class Categories(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(CategorySchema))
    def get(self, args):
        """Categories, active and inactive, in display order"""
        require(current_actor(), "community:read", community=current_community())
        return paginate(services.categories_statement(), args)

    @blp.arguments(CategorySchema)
    @blp.response(201, CategorySchema)
    def post(self, data):
        """Add a category (accepts Idempotency-Key)"""
        category = services.create_category(current_community(), data, actor=current_actor())
        db.session.flush()
        return category, {"Location": url_for(".CategoryById", category_id=category.id, _external=True)}


@blp.route("/categories/<int:category_id>")
class CategoryById(MethodView):
    @blp.response(200, CategorySchema)
    def get(self, category_id: int):
        """One category"""
        require(current_actor(), "community:read", community=current_community())
        return services.get_category(category_id)

    @blp.arguments(CategoryUpdateSchema(partial=True))
    @blp.response(200, CategorySchema)
    def patch(self, data, category_id: int):
        """Rename, retarget or (de)activate a category"""
        category = services.get_category(category_id)
        services.update_category(current_community(), category, data, actor=current_actor())
        db.session.flush()
        return category

    @blp.response(204)
    def delete(self, category_id: int):
        """Delete a category no matter uses (otherwise 409: deactivate it)"""
        category = services.get_category(category_id)
        services.delete_category(current_community(), category, actor=current_actor())
        db.session.flush()


@blp.route("/categories/apply-template")
class ApplyTemplate(MethodView):
    @blp.arguments(ApplyTemplateSchema)
    @blp.response(200, page_schema(CategorySchema))
    def post(self, data):
        """Add the categories of a template that the community does not have yet"""
        added = services.apply_template(current_community(), data["template"], actor=current_actor())
        db.session.flush()
        return {"items": added, "page": 1, "per_page": max(len(added), 1), "total": len(added)}
