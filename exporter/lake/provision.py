"""The PostgreSQL side of a lake deployment, as an operator sets it up once (docs/scale.md shows the SQL).

Three roles, two databases:

- the lake's database, owned by the writer role (writers and the maintenance node log in as it);
- an analyst role that may only SELECT in it, now and in tables the writers create later: query
  nodes attach through it `READ_ONLY`, so analyst SQL cannot change the lake or its catalog;
- an accounts database with its own role, which the analyst role cannot even connect to: token
  hashes stay out of the analysts' reach.
"""

from __future__ import annotations

import dataclasses

import psycopg
from psycopg import sql


@dataclasses.dataclass(frozen=True, slots=True)
class Roles:
    writer: str = "reqlog_writer"
    analyst: str = "reqlog_analyst"
    accounts: str = "reqlog_accounts"


def provision(
    admin_dsn: str, lake_db: str, accounts_db: str, passwords: dict[str, str], roles: Roles = Roles()
) -> None:
    """Create the roles (when missing) and both databases, with the grants described above."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for role in (roles.writer, roles.analyst, roles.accounts):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), passwords[role]))
        for database, owner in ((lake_db, roles.writer), (accounts_db, roles.accounts)):
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner)))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(lake_db), sql.Identifier(roles.analyst))
        )
    lake_admin = admin_dsn + f" dbname={lake_db}"
    with psycopg.connect(lake_admin, autocommit=True) as conn:
        writer, analyst = sql.Identifier(roles.writer), sql.Identifier(roles.analyst)
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(analyst))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(analyst))
        conn.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}").format(
                writer, analyst
            )
        )
