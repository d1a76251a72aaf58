"""Pagination of API lists in the database: page and page_size in, X-Pagination out (flask-smorest)."""
from flask_smorest import Page
from sqlalchemy import func, select

from ..extensions import db
from . import MAX_ID


class SqlPage(Page):
    """Paginates a select() in the database, not in memory: one query for the page, one to count."""

    @property
    def items(self):
        if self.page_params.first_item > MAX_ID:  # past the end of any table (PostgreSQL's OFFSET would overflow)
            return []
        query = self.collection.offset(self.page_params.first_item).limit(self.page_params.page_size)
        return db.session.scalars(query).all()

    @property
    def item_count(self):
        return db.session.scalar(select(func.count()).select_from(self.collection.order_by(None).subquery()))
