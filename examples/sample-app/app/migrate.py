"""The shop's database migration: run once per environment before the app starts ([preprod] init)."""
from __future__ import annotations

import sys

from backends import BackendError, postgres_from_env

MIGRATIONS = [
    (1, "CREATE TABLE orders (id serial PRIMARY KEY, total_cents integer NOT NULL, created timestamptz DEFAULT now())"),
]


def main() -> int:
    try:
        with postgres_from_env() as db:
            db.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                     "applied timestamptz DEFAULT now())")
            done = {int(row[0] or 0) for row in db.query("SELECT version FROM schema_migrations")}
            for version, sql in MIGRATIONS:
                if version not in done:
                    db.query(f"BEGIN; {sql}; INSERT INTO schema_migrations (version) VALUES ({version}); COMMIT")
                    print(f"applied migration {version}", flush=True)
    except (OSError, BackendError) as exc:
        print(f"migration failed: {exc}", file=sys.stderr, flush=True)
        return 1
    print("database schema is current", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
