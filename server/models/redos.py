"""Redo orders from spot checks: a village whose error rate exceeds the campaign's threshold redoes
its whole review (抽查差错率超过 2% 的村重新开展全面复核)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .areas import Area
from .base import Base
from .sampling import Campaign
from .users import User


class VillageRedo(Base):
    """One redo flag: set by the rule on the campaign's figures, withdrawn only by county staff.

    The figures are those at flagging time (the rates endpoint shows the current ones). While the
    flag is open, every household of the village not visited since `due_on` is due on that day.
    A withdrawn flag stays as the record; at most one flag per campaign and village is open."""

    __tablename__ = "village_redos"
    __table_args__ = (
        Index("uq_village_redos_open", "campaign_id", "village_id", unique=True,
              sqlite_where=text("withdrawn_at IS NULL"), postgresql_where=text("withdrawn_at IS NULL")),
        CheckConstraint("errors <= checked AND checked <= sampled", name="figures"),
        CheckConstraint("(withdrawn_at IS NULL) = (withdrawn_by_id IS NULL) AND "
                        "(withdrawn_at IS NULL) = (withdrawn_reason IS NULL) AND "
                        "(withdrawn_at IS NULL) = (errors_at_withdrawal IS NULL)", name="withdrawal_whole"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    flagged_at: Mapped[datetime]
    # The local day of the flag: the village's households are due from it, and a visit on or after
    # it counts as the household's redo.
    due_on: Mapped[date] = mapped_column(Date)
    sampled: Mapped[int] = mapped_column(Integer)
    checked: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    threshold_permille: Mapped[int] = mapped_column(Integer)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    withdrawn_reason: Mapped[str | None] = mapped_column(String(500))
    # Errors known when it was withdrawn: the rule flags the village again only on a further error.
    errors_at_withdrawal: Mapped[int | None] = mapped_column(Integer)

    campaign: Mapped[Campaign] = relationship()
    village: Mapped[Area] = relationship()
    withdrawn_by: Mapped[User | None] = relationship()
