#!/usr/bin/env bash
# The whole suite: SQLite always; PostgreSQL too when reachable (required when CI=true);
# the real-browser tests when Debian's chromium is installed (required when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
WORKERS="${TEST_WORKERS:-auto}"
PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/gridgov}"

pg_reachable() {
  "$PY" - "$1" <<'PYEOF'
import sys, psycopg, dj_database_url
cfg = dj_database_url.parse(sys.argv[1])
try:
    psycopg.connect(host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432, user=cfg["USER"] or "postgres",
                    password=cfg["PASSWORD"] or None, dbname="postgres", connect_timeout=5).close()
except Exception as exc:
    print(f"PostgreSQL unreachable: {exc}", file=sys.stderr)
    sys.exit(1)
PYEOF
}

echo "== manage.py check --deploy with the production settings (throwaway keys, an empty database)"
DEPLOY_VAR="$(mktemp -d)"
trap 'rm -rf "$DEPLOY_VAR"' EXIT
env -u DATABASE_URL -u SECRET_KEY_FILE -u GRIDGOV_DATA_KEY_FILE DJANGO_SETTINGS_MODULE=config.settings.production \
  SECRET_KEY="$("$PY" -c 'from config.keys import new_secret_key; print(new_secret_key())')" \
  GRIDGOV_DATA_KEY="$("$PY" -c 'from config.keys import new_data_key; print(new_data_key())')" \
  ALLOWED_HOSTS=grid.example.gov.cn SITE_URL=https://grid.example.gov.cn GRIDGOV_VAR_DIR="$DEPLOY_VAR" \
  "$PY" manage.py check --deploy --fail-level WARNING

echo "== suite on SQLite"
env -u DATABASE_URL "$PY" -m pytest -n "$WORKERS" -p no:cacheprovider "$@"

if pg_reachable "$PG_URL"; then
  echo "== suite on PostgreSQL ($PG_URL)"
  DATABASE_URL="$PG_URL" "$PY" -m pytest -n "$WORKERS" -p no:cacheprovider -m "not e2e" "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "CI: PostgreSQL is required but unreachable at $PG_URL" >&2
  exit 1
else
  echo "== PostgreSQL not reachable: skipped the PostgreSQL run (CI requires it)"
fi
