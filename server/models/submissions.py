"""Submissions from phones: each logical submission, its versions (edits), attachments and flags."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .areas import Area
from .base import Base, utcnow
from .cases import Household
from .forms import Form, FormVersion
from .users import User


REVIEW_STATES = ("received", "approved", "returned", "rejected")


class Submission(Base):
    """One filled form (a visit, a signed book ...), named by the instanceID it was first sent with."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("form_pk", "instance_id"),
        CheckConstraint("review_state IN ('received', 'approved', 'returned', 'rejected')", name="review_state"),
        CheckConstraint("review_state IN ('received', 'approved') OR review_reason <> ''", name="reason_given"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_pk: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="RESTRICT"))
    instance_id: Mapped[str] = mapped_column(String(255))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    # A village-level record (publicity, democratic appraisal) is filed under the village it names.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Review: received → approved / returned (what to re-do) / rejected; a corrected version of a
    # returned visit is received again. row_version makes two simultaneous decisions conflict.
    review_state: Mapped[str] = mapped_column(String(10), default="received", server_default="received")
    review_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reviewed_at: Mapped[datetime | None]
    row_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    form: Mapped[Form] = relationship()
    household: Mapped[Household | None] = relationship()
    village: Mapped[Area | None] = relationship()
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    versions: Mapped[list[SubmissionVersion]] = relationship(back_populates="submission", order_by="SubmissionVersion.id")
    review_events: Mapped[list[ReviewEvent]] = relationship(back_populates="submission", order_by="ReviewEvent.id")


class SubmissionVersion(Base):
    """The XML exactly as received. An edit (meta/deprecatedID) adds a version; none is replaced."""

    __tablename__ = "submission_versions"
    __table_args__ = (
        # Idempotency is a constraint: one instanceID per form, whatever the race.
        UniqueConstraint("form_pk", "instance_id"),
        Index("uq_submission_versions_current", "submission_id", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
        # The checks' queue: versions whose pictures and checks are still to be done.
        Index("ix_submission_versions_unchecked", "id",
              sqlite_where=text("checked_at IS NULL"), postgresql_where=text("checked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"), index=True)
    form_pk: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="RESTRICT"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id", ondelete="RESTRICT"), index=True)
    instance_id: Mapped[str] = mapped_column(String(255))
    deprecated_id: Mapped[str | None] = mapped_column(String(255))
    xml: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    is_complete: Mapped[bool] = mapped_column(Boolean, default=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The visit's own geopoint and time span, read from the XML for checks and maps.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # Pictures are decoded and the checks run after the answer to the phone, by a worker
    # (services/checking.py): NULL until done for the version's current files. A worker holds a
    # version until check_lease_until; a lease run out means it stopped, and another takes over.
    checked_at: Mapped[datetime | None]
    check_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    check_lease_until: Mapped[datetime | None]
    # The visit record (services/visits.py): what the XML and its audit log say, read once when the
    # checks ran and stored, so that no reader parses the XML again. NULL until then.
    record: Mapped[dict | None] = mapped_column(JSON, deferred=True)

    submission: Mapped[Submission] = relationship(back_populates="versions")
    form_version: Mapped[FormVersion] = relationship()
    submitted_by: Mapped[User] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(back_populates="version", order_by="Attachment.filename")
    flags: Mapped[list[Flag]] = relationship(back_populates="version", order_by="Flag.id")


class Attachment(Base):
    """A file the XML names. sha256 is NULL until the file has arrived (an incomplete submission)."""

    __tablename__ = "attachments"
    # Also the index for a version's files (version_id leads): no second one to keep up per row.
    __table_args__ = (UniqueConstraint("version_id", "filename"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_versions.id", ondelete="RESTRICT"))
    filename: Mapped[str] = mapped_column(String(255))
    field: Mapped[str] = mapped_column(String(255))  # the question's path, e.g. sights/sight_head_photo
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime | None]
    # For photos and signatures: what the image says about itself.
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None]
    exif_latitude: Mapped[float | None] = mapped_column(Float)
    exif_longitude: Mapped[float | None] = mapped_column(Float)
    camera: Mapped[str | None] = mapped_column(String(255))
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    # When the picture was decoded (EXIF, hash, thumbnail), or why it could not be.
    inspected_at: Mapped[datetime | None]
    picture_problem: Mapped[str | None] = mapped_column(Text)

    version: Mapped[SubmissionVersion] = relationship(back_populates="attachments")


class Flag(Base):
    """A check that found something to look at, with its figures, explained in words."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_versions.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(10), default="warning")
    message: Mapped[str] = mapped_column(Text)
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    version: Mapped[SubmissionVersion] = relationship(back_populates="flags")


class ReviewEvent(Base):
    """The signed trail of a review: every decision and comment, who and when; never changed."""

    __tablename__ = "review_events"
    __table_args__ = (
        CheckConstraint("kind IN ('approved', 'returned', 'rejected', 'comment', 'resubmitted')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="review_events")
    author: Mapped[User] = relationship()
