"""list_versions: a change counter per area, kept by triggers, so a phone's cases.csv is rebuilt only when it changed

Revision ID: 0016_list_versions
Revises: 0015_sign_in_failures
Create Date: 2026-12-03 16:00:00

Triggers, not the application, keep the counters: every write path (the API, the phone's upload,
the CLI, the check worker, an import, a hand-made UPDATE) changes the counter in the same
transaction as the row, and every worker process sees it. What each trigger covers is what
server/services/cases.py cases_csv reads: an area's row (a village's name, its path), its
households (any column), their submissions (which is the latest, its form, review state and reason)
and the area's redo orders. The counter only grows.
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_list_versions'
down_revision = '0015_sign_in_failures'
branch_labels = None
depends_on = None

# A new area's counter. No foreign key and no cascade: SQLite may give a deleted area's id to a new
# one, whose counter then goes on from the old one's instead of starting again at a value seen before.
ADDED = ("INSERT INTO list_versions (area_id, version) VALUES (NEW.id, 0) "
         "ON CONFLICT (area_id) DO UPDATE SET version = list_versions.version + 1")
BUMP = "UPDATE list_versions SET version = version + 1 WHERE area_id = {area}"
VILLAGE_OF = "(SELECT village_id FROM households WHERE id = {row}.household_id)"
SUBMISSION_COLUMNS = "household_id, form_pk, review_state, review_reason"

# (trigger name, table, event for SQLite, condition, area expressions by row: OLD and/or NEW)
SQLITE_TRIGGERS = [
    ("households", "INSERT", None, ["NEW.village_id"]),
    ("households", "UPDATE", None, ["OLD.village_id", "NEW.village_id"]),
    ("households", "DELETE", None, ["OLD.village_id"]),
    ("submissions", "INSERT", "NEW.household_id IS NOT NULL", [VILLAGE_OF.format(row="NEW")]),
    ("submissions", f"UPDATE OF {SUBMISSION_COLUMNS}", None,
     [VILLAGE_OF.format(row="OLD"), VILLAGE_OF.format(row="NEW")]),
    ("submissions", "DELETE", "OLD.household_id IS NOT NULL", [VILLAGE_OF.format(row="OLD")]),
    ("village_redos", "INSERT", None, ["NEW.village_id"]),
    ("village_redos", "UPDATE", None, ["OLD.village_id", "NEW.village_id"]),
    ("village_redos", "DELETE", None, ["OLD.village_id"]),
    ("areas", "UPDATE", None, ["NEW.id"]),
]

# PostgreSQL: one function per table; OLD is NULL in an INSERT trigger and NEW in a DELETE one.
POSTGRES_FUNCTIONS = {
    "households": ("INSERT OR UPDATE OR DELETE", ["OLD.village_id", "NEW.village_id"]),
    "submissions": (f"INSERT OR UPDATE OF {SUBMISSION_COLUMNS} OR DELETE",
                    [VILLAGE_OF.format(row="OLD"), VILLAGE_OF.format(row="NEW")]),
    "village_redos": ("INSERT OR UPDATE OR DELETE", ["OLD.village_id", "NEW.village_id"]),
    "areas": ("UPDATE", ["NEW.id"]),
}


def upgrade() -> None:
    op.create_table('list_versions',
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('area_id', name=op.f('pk_list_versions'))
    )
    op.execute("INSERT INTO list_versions (area_id, version) SELECT id, 0 FROM areas")
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    op.execute("CREATE TRIGGER list_versions_area_added AFTER INSERT ON areas FOR EACH ROW BEGIN "
               f"{ADDED}; END")
    for table, event, condition, areas in SQLITE_TRIGGERS:
        name = f"list_versions_{table}_{event.split()[0].lower()}"
        when = f" WHEN {condition}" if condition else ""
        body = " ".join(BUMP.format(area=area) + ";" for area in _distinct(areas))
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {body} END")


def _distinct(areas: list[str]) -> list[str]:
    """OLD's and NEW's area bumped once when they are the same (one UPDATE of both)."""
    if len(areas) == 1:
        return areas
    return [f"{areas[0]} OR area_id = {areas[1]}"]


def _postgres_triggers() -> None:
    op.execute(f"""
        CREATE FUNCTION list_versions_area_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {ADDED};
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER list_versions_area_added AFTER INSERT ON areas "
               "FOR EACH ROW EXECUTE FUNCTION list_versions_area_added()")
    for table, (events, areas) in POSTGRES_FUNCTIONS.items():
        area = " OR area_id = ".join(areas)
        op.execute(f"""
            CREATE FUNCTION list_versions_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {BUMP.format(area=area)};
                RETURN NULL;
            END $$""")
        op.execute(f"CREATE TRIGGER list_versions_{table} AFTER {events} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION list_versions_{table}()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER list_versions_area_added ON areas")
        op.execute("DROP FUNCTION list_versions_area_added()")
        for table in POSTGRES_FUNCTIONS:
            op.execute(f"DROP TRIGGER list_versions_{table} ON {table}")
            op.execute(f"DROP FUNCTION list_versions_{table}()")
    else:
        op.execute("DROP TRIGGER list_versions_area_added")
        for table, event, _condition, _areas in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER list_versions_{table}_{event.split()[0].lower()}")
    op.drop_table('list_versions')
