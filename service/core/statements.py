"""Statements of the busiest paths, compiled once and run on the driver's cursor.

SQLAlchemy Core runs a statement through a dozen Python layers (the compiled cache, events,
parameter and result objects). On completing a task, which runs ten short statements after
an engine step, those layers cost about as much as the statements themselves. A `Prepared`
statement is an ordinary Core statement, compiled by SQLAlchemy once per dialect; each run
then only converts the parameters and results with the types' own processors (the same
conversions SQLAlchemy applies) and calls the DBAPI cursor of the session's connection,
inside the session's transaction. The transaction itself (its BEGIN, SQLite's write lock,
the commit) stays with the session: `session.connection()` begins it as usual.

For statements with fixed shape only: no expanding IN lists, no per-call options. They do
not pass through SQLAlchemy's execution events, so `echo` and `before_cursor_execute`
listeners do not see them (bench/references.py counts statements with SQLite's own trace).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlmodel import Session

Row = dict[str, Any]


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    """Parameter names in the order the driver takes them (qmark), or the names it takes by
    name (pyformat)."""
    positional: bool
    defaults: dict[str, Any]
    """Values SQLAlchemy bound itself (literals in the statement, LIMIT)."""
    processors: dict[str, Callable[[Any], Any]]
    columns: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]


class Prepared:
    """A Core statement for the busiest paths (see the module's docstring). `columns`: for an
    INSERT, the columns every row gives (those only are inserted)."""

    def __init__(self, statement: ClauseElement, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._plans: dict[str, _Plan] = {}
        if isinstance(statement, sa.Select):  # rows are read by column name
            names = [column.name for column in statement.selected_columns]
            if len(set(names)) != len(names):
                raise TypeError(f"columns selected twice under one name: {names}")

    def execute(self, session: Session, params: Mapping[str, Any]) -> Any:
        """Run once; returns the driver's cursor (its `rowcount` for writes)."""
        return self._run(session, params)[1]

    def execute_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        plan, cursor = self._start(session)
        cursor.executemany(plan.sql, [self._arguments(plan, row) for row in rows])

    def first(self, session: Session, params: Mapping[str, Any]) -> Row | None:
        plan, cursor = self._run(session, params)
        row = cursor.fetchone()
        return None if row is None else _row(plan, row)

    def all(self, session: Session, params: Mapping[str, Any]) -> list[Row]:
        plan, cursor = self._run(session, params)
        return [_row(plan, row) for row in cursor.fetchall()]

    def _run(self, session: Session, params: Mapping[str, Any]) -> tuple[_Plan, Any]:
        plan, cursor = self._start(session)
        cursor.execute(plan.sql, self._arguments(plan, params))
        return plan, cursor

    def _start(self, session: Session) -> tuple[_Plan, Any]:
        dialect, driver = _driver_connection(session)
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = self._plan(dialect)
        return plan, driver.cursor()

    @staticmethod
    def _arguments(plan: _Plan, params: Mapping[str, Any]) -> Any:
        values = {**plan.defaults, **params} if plan.defaults else params
        processors = plan.processors
        if plan.positional:
            return tuple(processors[name](values[name]) if name in processors
                         else values[name] for name in plan.names)
        return {name: processors[name](values[name]) if name in processors else values[name]
                for name in plan.names}

    def _plan(self, dialect: Dialect) -> _Plan:
        compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect,
                                                            column_keys=self.columns))
        binds = compiled.bind_names  # each bind parameter, by the name it has in the SQL
        if compiled.positiontup is not None:
            names, positional = tuple(compiled.positiontup), True
        else:
            names, positional = tuple(dict.fromkeys(binds.values())), False
        processors: dict[str, Callable[[Any], Any]] = {}
        defaults = {}
        for bind, name in binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors[name] = process
            if not bind.required:
                defaults[name] = bind.effective_value
        columns: tuple[str, ...] = ()
        results: tuple[Callable[[Any], Any] | None, ...] = ()
        if isinstance(self.statement, sa.Select):
            selected = list(self.statement.selected_columns)
            columns = tuple(column.name for column in selected)
            results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                            for column in selected)
        return _Plan(compiled.string, names, positional, defaults, processors, columns,
                     results)


_DRIVER = "carepath_driver_connection"


def _driver_connection(session: Session) -> tuple[Dialect, Any]:
    """The dialect and driver connection of the session's current transaction, begun if
    need be (`session.connection()`: on SQLite a writing transaction takes the write lock
    there). Remembered for the transaction, as asking the session costs more than the
    statement's own conversions."""
    transaction = session.get_transaction()
    known = session.info.get(_DRIVER)
    if transaction is not None and known is not None and known[0] is transaction:
        return known[1], known[2]
    connection = session.connection()
    session.info[_DRIVER] = (session.get_transaction(), connection.dialect,
                             connection.connection.driver_connection)
    return connection.dialect, connection.connection.driver_connection


def _row(plan: _Plan, row: Sequence[Any]) -> Row:
    return {name: value if process is None or value is None else process(value)
            for name, process, value in zip(plan.columns, plan.results, row, strict=True)}
