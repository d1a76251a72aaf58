"""Pagination of API lists in the database: page and page_size in, X-Pagination out (flask-smorest)."""
from flask_smorest import Page
from sqlalchemy import func, select

from ..extensions import db
from ..services import audit
from . import MAX_ID


class SqlPage(Page):
    """Paginates a select() in the database, not in memory: one query for the page, one to count."""

    @property
    def items(self):
        if self.page_params.first_item > MAX_ID:  # past the end of any table (PostgreSQL's OFFSET would overflow)
            items = []
        else:
            query = self.collection.offset(self.page_params.first_item).limit(self.page_params.page_size)
            items = db.session.scalars(query).all()
        # An audited list's event says how many rows it showed (services/audit.py note_list).
        audit.note_page(page=self.page_params.page, rows=len(items), total=self.page_params.item_count)
        return items

    @property
    def item_count(self):
        return db.session.scalar(select(func.count()).select_from(self.collection.order_by(None).subquery()))
