"""One statement over many rows, each column's values converted in one pass.

SQLAlchemy's executemany builds, for every row, a dict of every parameter (its
column defaults included) and then a list through each parameter's bind processor:
generic work per row and per column, which cost more than SQLite's own writing of the
rows for the wide statements processing and threading run every batch (the message
update, the conversation insert). Here a statement is compiled once per
dialect and set of row keys, just as SQLAlchemy compiles it for an executemany; each
column's values go through their type's bind processor in one ``map``, and the result
goes to the driver through the session's connection (``exec_driver_sql``, in the
session's transaction, its errors translated as any other's). The driver thus
receives the SQL text and the values ``session.execute(statement, rows)`` sends it for
two rows or more (one row goes as one execute, without a RETURNING of its key), on
SQLite and PostgreSQL alike.

Only statements whose values all come from the rows or from constant column defaults
qualify: :func:`execute_many` refuses any other (a default computed per row, an
expanding IN list).
"""

__all__ = ["execute_many", "insert_many"]

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Dialect, Insert, Table
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

# A parameter's value in every row: a row key, or a column default's constant.
_Source = tuple[str, None] | tuple[None, Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    # Per bound parameter, in the statement's order: where its values come from and the
    # bind processor of its type.
    sources: tuple[_Source, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    # The parameters' names for a driver that takes them by name (psycopg); None: by position.
    names: tuple[str, ...] | None


@lru_cache(maxsize=64)
def _plan(dialect: Dialect, statement: UpdateBase, keys: tuple[str, ...]) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    if not isinstance(compiled, SQLCompiler) or compiled.update_prefetch:
        raise ValueError(f"not a statement execute_many can run: {statement}")
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError(f"statement renders values per execution: {statement}")
    constants: dict[str, Any] = {}
    for column in compiled.insert_prefetch:
        default = column.default
        if default is None or not default.is_scalar:
            raise ValueError(f"column {column.key} has a default computed per row")
        constants[column.key] = getattr(default, "arg", None)
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    order = list(compiled.positiontup or ()) if compiled.positional else list(binds)
    sources: list[_Source] = []
    for name in order:
        key = binds[name].key
        if key in keys:
            sources.append((key, None))
        elif key in constants:
            sources.append((None, constants[key]))
        else:
            raise ValueError(f"rows lack the value of {key!r}: {statement}")
    escaped = compiled.escaped_bind_names
    return _Plan(
        sql=compiled.string,
        sources=tuple(sources),
        processors=tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order
        ),
        names=None if compiled.positional else tuple(escaped.get(name, name) for name in order),
    )


def _converted(values: list[Any], processor: Callable[[Any], Any] | None) -> list[Any]:
    """A column's values as bound; one object throughout (a batch's ``now``, a constant
    default) is converted once. By identity, not equality: ``[1] == [True]``, but
    their JSON differs."""
    if processor is None:
        return values
    first = values[0]
    if all(value is first for value in values):
        return [processor(first)] * len(values)
    return list(map(processor, values))


@lru_cache(maxsize=32)
def _insert(table: Table) -> Insert:
    """The one insert statement of ``table``, so that its plan is made once."""
    return table.insert()


def insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``session.execute(table.insert(), rows)``, for rows that all have the first one's keys."""
    execute_many(session, _insert(table), rows)


def execute_many(
    session: Session, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]
) -> None:
    """``session.execute(statement, rows)``, for rows that all have the first one's keys.

    Plans are kept by statement object: ``statement`` must be one made once (a module's
    constant), not built anew for each call.
    """
    if not rows:
        return
    connection = session.connection()
    plan = _plan(connection.dialect, statement, tuple(rows[0]))
    columns = [
        _converted([constant] * len(rows) if key is None else [row[key] for row in rows], processor)
        for (key, constant), processor in zip(plan.sources, plan.processors, strict=True)
    ]
    if plan.names is None:
        connection.exec_driver_sql(plan.sql, list(zip(*columns, strict=True)))
    else:
        names = plan.names
        connection.exec_driver_sql(
            plan.sql,
            [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)],
        )
