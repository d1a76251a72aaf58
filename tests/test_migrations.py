"""The migrations build exactly the schema the models declare (tables, columns, indexes, keys), in
one straight line of revisions."""
from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from server.cli import alembic_config
from server.models import Base


def test_the_migrated_database_matches_the_models(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def test_there_is_exactly_one_head():
    """Revisions made in parallel are put one after the other before they land, never merged."""
    assert len(_scripts().get_heads()) == 1


def test_revisions_are_one_line_numbered_in_order():
    """Each revision has one parent (none for the first), its id is its number (its parent's plus
    one) and a name, and its file is named by its id: 0001_baseline, 0002_..."""
    revisions = list(reversed(list(_scripts().walk_revisions())))
    assert revisions[0].down_revision is None
    for number, revision in enumerate(revisions, start=1):
        assert re.fullmatch(rf"{number:04d}_[a-z0-9_]+", revision.revision), revision.revision
        assert Path(revision.path).name == f"{revision.revision}.py"
        if number > 1:
            assert revision.down_revision == revisions[number - 2].revision
