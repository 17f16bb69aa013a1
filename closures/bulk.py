"""Many rows in one go: the fan-outs' INSERT (an emergency's 10,000 direct messages, a flood alert's
subscribers), leaving alone any row that would break a unique key, on SQLite and PostgreSQL alike.

The ORM's bulk insert spends most of a big fan-out building and binding each row's parameters, although
most columns hold the same value in every row (the emergency, the event, the status, the times). Here a
fan-out says which columns are the *same* in every row and which vary (*each*, one sequence per column);
the constants are bound once, the varying columns go to the database as they are:

* PostgreSQL: ONE statement, ``INSERT … SELECT <constants>, u.* FROM unnest(<one array per column>)
  … ON CONFLICT DO NOTHING`` (one round trip, however many rows);
* SQLite: one prepared ``INSERT … ON CONFLICT DO NOTHING`` run by the driver's ``executemany`` (in
  process, so no round trips to save), with the constants converted once by their column's type.

Nothing is defaulted: every column but an autoincrement primary key must be given (None where it is
NULL), so a row written here holds exactly what an ORM row with those values would (``tests/closures/
test_bulk.py`` compares them field by field), and a new column cannot silently be left to a default.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_new(
    session: Session, table: sa.Table, *, same: Mapping[str, Any], each: Mapping[str, Sequence[Any]]
) -> None:
    """INSERT one row per position of the ``each`` sequences (all of one length), with the ``same`` values
    in every row, in the session's transaction; rows that would break a unique key are left alone."""
    count = _checked(table, same, each)
    if count == 0:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_unnest(table, same, each))
    else:
        _executemany(connection, table, same, each, count)


def _checked(table: sa.Table, same: Mapping[str, Any], each: Mapping[str, Sequence[Any]]) -> int:
    """How many rows; ValueError unless every column is given once (see the module docstring)."""
    given = [*same, *each]
    wanted = {c.name for c in table.columns if c is not table.autoincrement_column}
    twice = set(same) & set(each)
    missing, unknown = wanted - set(given), set(given) - wanted
    if twice or missing or unknown:
        raise ValueError(
            f"insert into {table.name}: every column once, none defaulted "
            f"(missing {sorted(missing)}, unknown {sorted(unknown)}, twice {sorted(twice)})"
        )
    lengths = {len(values) for values in each.values()}
    if not each:
        raise ValueError(f"insert into {table.name}: no varying column (one row is an ordinary insert)")
    if len(lengths) != 1:
        raise ValueError(
            f"insert into {table.name}: the varying columns differ in length ({sorted(lengths)})"
        )
    return lengths.pop()


def _unnest(table: sa.Table, same: Mapping[str, Any], each: Mapping[str, Sequence[Any]]) -> sa.Executable:
    names = list(each)
    rows = (
        sa.func.unnest(
            *[
                sa.bindparam(f"each_{n}", list(each[n]), type_=postgresql.ARRAY(table.c[n].type))
                for n in names
            ]
        )
        .table_valued(*names)
        .render_derived(name="fanned")
    )  # AS fanned(column, …)
    constants = [sa.bindparam(f"same_{n}", value, type_=table.c[n].type) for n, value in same.items()]
    chosen = sa.select(*constants, *[rows.c[n] for n in names])
    return postgresql.insert(table).from_select([*same, *names], chosen).on_conflict_do_nothing()


def _executemany(
    connection: sa.Connection, table: sa.Table, same: Mapping[str, Any], each: Mapping[str, Sequence[Any]],
    count: int,
) -> None:  # fmt: skip
    dialect = connection.dialect
    names = [*same, *each]
    statement = sqlite.insert(table).values({n: sa.bindparam(n) for n in names}).on_conflict_do_nothing()
    compiled = statement.compile(dialect=dialect)
    assert compiled.positiontup is not None  # SQLite's driver takes "?" parameters, in this order

    def converted(name: str) -> Sequence[Any] | itertools.repeat[Any]:
        # the dialect's own conversion (SQLite keeps times as text in its format), after the column type's
        convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name in same:
            return itertools.repeat(convert(same[name]) if convert else same[name], count)
        return [convert(v) for v in each[name]] if convert else each[name]

    columns = {name: converted(name) for name in names}
    rows = list(zip(*(columns[name] for name in compiled.positiontup), strict=False))
    connection.exec_driver_sql(str(compiled), rows)
