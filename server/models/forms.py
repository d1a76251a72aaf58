"""Questionnaires and their published versions (XML as served, with its MD5)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .users import User


class Form(Base):
    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(100), unique=True)  # the XForm's formID
    title: Mapped[str] = mapped_column(String(255))
    # Roles whose users receive this form in their formList.
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[FormVersion]] = relationship(back_populates="form", order_by="FormVersion.id")


class FormVersion(Base):
    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_pk: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="RESTRICT"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(255))
    # The exact bytes served to phones, and the MD5 formList announces for them.
    xml: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    md5: Mapped[str] = mapped_column(String(32))
    # Files the form reads from its manifest (e.g. ["cases.csv"]); generated per caller.
    media_files: Mapped[list[str]] = mapped_column(JSON)
    source_filename: Mapped[str] = mapped_column(String(255))
    source: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    form: Mapped[Form] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship()
