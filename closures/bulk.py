"""Many rows in one go: the fan-outs' INSERT (an emergency's 10,000 direct messages, a flood alert's
subscribers), leaving alone any row that would break a unique key, on SQLite and PostgreSQL alike.

The ORM's bulk insert spends most of a big fan-out building and binding each row's parameters, although
most columns hold the same value in every row (the emergency, the event, the status, the times). Here a
fan-out says which columns are the *same* in every row and which vary (*each*, one sequence per column);
the constants are bound once, the varying columns go to the database as they are:

* PostgreSQL: ONE statement, ``INSERT … SELECT <constants>, fanned.* FROM unnest(<one array per
  column>) AS fanned(…) ON CONFLICT DO NOTHING`` (one round trip, however many rows);
* SQLite: one prepared ``INSERT … ON CONFLICT DO NOTHING`` run by the driver's ``executemany`` (in
  process, so no round trips to save), with the constants converted once by their column's type.

Nothing is defaulted: every column but an autoincrement primary key must be given (None where it is
NULL), so a row written here holds exactly what an ORM row with those values would (``tests/closures/
test_bulk.py`` compares them field by field), and a new column cannot silently be left to a default.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import Session, SQLModel


def insert_new(
    session: Session, model: type[SQLModel], *, same: Mapping[str, Any], each: Mapping[str, Sequence[Any]]
) -> None:
    """INSERT into ``model``'s table one row per position of the ``each`` sequences (all of one length),
    with the ``same`` values in every row, in the session's transaction; rows that would break a unique
    key are left alone."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    count = _checked(table, same, each)
    if count == 0:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _unnest(connection, table, same, each)
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


def _unnest(
    connection: sa.Connection, table: sa.Table, same: Mapping[str, Any], each: Mapping[str, Sequence[Any]]
) -> None:
    # Written out rather than built with SQLAlchemy, for one reason: the arrays go in psycopg's binary
    # format ("%b"), which copies each value as it is, where the text format quotes and escapes every
    # element in Python (0.2 s for the arrays of 10,750 DMs and their recipients, against 0.035 s).
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote

    def sql_type(name: str) -> str:
        return str(table.c[name].type.compile(dialect=dialect))

    params = {
        f"same_{i}": _converted(table, name, dialect, value) for i, (name, value) in enumerate(same.items())
    }
    params |= {f"each_{i}": list(values) for i, values in enumerate(each.values())}
    constants = [f"CAST(%(same_{i})s AS {sql_type(name)})" for i, name in enumerate(same)]
    arrays = [f"CAST(%(each_{i})b AS {sql_type(name)}[])" for i, name in enumerate(each)]
    columns = ", ".join(quote(name) for name in [*same, *each])
    fanned = ", ".join(quote(name) for name in each)
    connection.exec_driver_sql(
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({columns}) "
        f"SELECT {', '.join(constants)}, fanned.* FROM unnest({', '.join(arrays)}) AS fanned({fanned}) "
        "ON CONFLICT DO NOTHING",
        params,
    )


def _converted(table: sa.Table, name: str, dialect: sa.Dialect, value: Any) -> Any:
    """``value`` as the driver takes it for the column (see ``_conversion``)."""
    convert = _conversion(table, name, dialect)
    return convert(value) if convert else value


def _conversion(table: sa.Table, name: str, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    """The column type's conversion (a time made UTC), then the dialect's (SQLite keeps times as text, in
    its own format); None when values go to the driver as they are (text, numbers)."""
    return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)


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
        if name in same:
            return itertools.repeat(_converted(table, name, dialect, same[name]), count)
        convert = _conversion(table, name, dialect)  # looked up once per column, not per value
        return [convert(value) for value in each[name]] if convert else each[name]

    columns = {name: converted(name) for name in names}
    rows = list(zip(*(columns[name] for name in compiled.positiontup), strict=False))
    connection.exec_driver_sql(str(compiled), rows)
