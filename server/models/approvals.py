"""Table 3 (审核审批表): the three levels of a household's approval, and case status changes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .cases import Household
from .users import User

LEVELS = ("village", "township", "county")
STATUS_REASONS = {
    "approved": ("县级审批同意", "approved by the county"),
    "death": ("死亡", "death"),
    "marriage_out": ("婚迁", "marriage out"),
    "improved_circumstances": ("家庭经济状况好转", "improved circumstances"),
    "moved_to_extreme_poverty_support": ("转为特困供养", "moved to extreme-poverty support (五保)"),
    "removal_condition": ("符合清退条件", "a removal condition"),
    "not_home_three_times": ("连续三次入户未遇", "not at home three visits in a row"),
    "refused_investigation": ("拒绝入户调查", "refused the investigation"),
    "moved_away": ("户籍迁出", "moved away"),
    "circumstances_under_review": ("情况待核实", "circumstances under review"),
    "resumed": ("恢复保障", "assistance resumed"),
    "refused": ("审批不同意", "refused at approval"),
    "withdrawn": ("申请人撤回", "application withdrawn"),
}


class ApprovalRound(Base):
    """One pass of a household through table 3, from the village's first opinion to the county."""

    __tablename__ = "approval_rounds"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'approved', 'refused')", name="state"),
        # One approval under way per household at a time.
        Index("uq_approval_rounds_open", "household_id", unique=True,
              sqlite_where=text("state = 'open'"), postgresql_where=text("state = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    basis_submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(10), default="open")
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)

    household: Mapped[Household] = relationship()
    opened_by: Mapped[User] = relationship()
    levels: Mapped[list[LevelOpinion]] = relationship(back_populates="round", order_by="LevelOpinion.id")


class LevelOpinion(Base):
    """What one level said, who said it and when. Levels come in order; none is skipped or redone."""

    __tablename__ = "level_opinions"
    __table_args__ = (
        UniqueConstraint("round_id", "level"),
        CheckConstraint("level IN ('village', 'township', 'county')", name="level"),
        CheckConstraint("outcome IN ('agree', 'disagree')", name="outcome"),
        CheckConstraint("category IS NULL OR category IN ('A', 'B', 'C')", name="category"),
        CheckConstraint("monthly_amount_fen IS NULL OR monthly_amount_fen >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("approval_rounds.id", ondelete="RESTRICT"), index=True)
    level: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(10))
    opinion: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(1))
    monthly_amount_fen: Mapped[int | None] = mapped_column(Integer)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    round: Mapped[ApprovalRound] = relationship(back_populates="levels")
    by: Mapped[User] = relationship()


class StatusChange(Base):
    """Every change of a case's status, with its reason from the domain's list."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    from_status: Mapped[str] = mapped_column(String(10))
    to_status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    by: Mapped[User] = relationship()
