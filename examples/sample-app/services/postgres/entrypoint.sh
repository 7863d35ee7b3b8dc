#!/bin/sh
# First start on an empty data folder: a cluster whose superuser $POSTGRES_USER has $POSTGRES_PASSWORD
# (SCRAM over the network), and database $POSTGRES_DB. Then PostgreSQL in the foreground.
set -eu
BIN=$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)
DATA=/var/lib/postgresql/data
USER_NAME=${POSTGRES_USER:-shop}
DB=${POSTGRES_DB:-$USER_NAME}
if [ ! -s "$DATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (jdci.toml: POSTGRES_PASSWORD = \"\${PGPASSWORD}\")}"
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  "$BIN/initdb" -D "$DATA" -U "$USER_NAME" --pwfile="$pwfile" -E UTF8 --auth-local=trust \
    --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$DATA/pg_hba.conf"
  if [ "$DB" != postgres ]; then
    echo "CREATE DATABASE \"$DB\"" | "$BIN/postgres" --single -D "$DATA" -j postgres >/dev/null
  fi
  echo "initialised database $DB"
fi
exec "$BIN/postgres" -D "$DATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
