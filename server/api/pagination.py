"""Pagination of API lists in the database: page and page_size in, X-Pagination out (flask-smorest)."""
from flask_smorest import Page
from sqlalchemy import func, select

from ..extensions import db
from ..services import audit
from . import MAX_ID

# How X-Pagination is sent: flask-smorest writes the metadata as JSON text in the header (its own
# document declares an object, which a header in OpenAPI's simple style is not).
PAGINATION_HEADER = {
    "description": "The page as a JSON object in one string: `total` (items in all pages), `total_pages`, and, "
                   "when there are items, `first_page`, `last_page`, and while `page` is not past the last page "
                   "`page`, `previous_page` (not on the first) and `next_page` (not on the last); all integers.",
    "schema": {"type": "string", "example": '{"total": 41, "total_pages": 3, "first_page": 1, "last_page": 3, '
                                            '"page": 2, "previous_page": 1, "next_page": 3}'},
}


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
