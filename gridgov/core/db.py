"""Database-level guards that the application cannot bypass: append-only tables.

A BEFORE UPDATE / DELETE trigger refuses any change to a row of an append-only table, whichever code
path (admin, API, ORM shell, raw SQL through the application's account) tries it. Installed by a
migration on SQLite and PostgreSQL; removing the triggers needs a schema change, which a deployment's
application account should not be allowed to make.
"""

from __future__ import annotations

APPEND_ONLY_TABLES = ("people_accesslog", "cases_caseevent", "core_auditentry")
MESSAGE = "append-only table: rows cannot be changed or deleted"
AUDIT_TABLE = "core_auditentry"
AUDIT_MIN_DAYS = 180  # core.audit.MIN_RETENTION_DAYS, repeated in the trigger so no setting can lower it


def _audit_statements(vendor: str) -> tuple[list[str], list[str]]:
    """The security audit log: never updated; a row is deleted only by `audit_prune`, which holds a permit
    row for the cut-off, and only when it is older than 180 days whatever the permit says."""
    table = AUDIT_TABLE
    if vendor == "sqlite":
        create = [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table}: {MESSAGE}'); END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "  # noqa: S608 (constants only)
            f"WHEN NOT (OLD.at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-{AUDIT_MIN_DAYS} days') "
            "AND EXISTS (SELECT 1 FROM core_auditprunepermit p WHERE OLD.at < p.before)) "
            f"BEGIN SELECT RAISE(ABORT, '{table}: {MESSAGE}'); END",
        ]
        drop = [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
        return create, drop
    if vendor == "postgresql":
        create = [
            "CREATE OR REPLACE FUNCTION gridgov_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608 (constants only)
            f"IF TG_OP = 'DELETE' AND OLD.at < now() - interval '{AUDIT_MIN_DAYS} days' "
            "AND EXISTS (SELECT 1 FROM core_auditprunepermit p WHERE OLD.at < p.before) THEN RETURN OLD; END IF; "
            f"RAISE EXCEPTION '%: {MESSAGE}', TG_TABLE_NAME; END $$",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION gridgov_audit_guard()",
        ]
        return create, [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]
    return [], []


def _statements(vendor: str, table: str) -> tuple[list[str], list[str]]:
    if table == AUDIT_TABLE:
        return _audit_statements(vendor)
    if vendor == "sqlite":
        create = [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table}: {MESSAGE}'); END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table}: {MESSAGE}'); END",
        ]
        drop = [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
        return create, drop
    if vendor == "postgresql":
        create = [
            "CREATE OR REPLACE FUNCTION gridgov_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '%: {MESSAGE}', TG_TABLE_NAME; END $$",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION gridgov_append_only()",
        ]
        return create, [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]
    return [], []


def append_only_install(connection, tables: tuple[str, ...] = APPEND_ONLY_TABLES) -> None:
    """Install the guards on `tables` (a migration passes the tables it creates)."""
    with connection.cursor() as cursor:
        for table in tables:
            for sql in _statements(connection.vendor, table)[0]:
                cursor.execute(sql)


def append_only_remove(connection, tables: tuple[str, ...] = APPEND_ONLY_TABLES) -> None:
    """Only for test teardown on SQLite (a flush deletes every row) and for reversing a migration."""
    with connection.cursor() as cursor:
        for table in tables:
            for sql in _statements(connection.vendor, table)[1]:
                cursor.execute(sql)
