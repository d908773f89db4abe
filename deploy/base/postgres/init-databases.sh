#!/usr/bin/env bash
# Run by the postgres image's entrypoint once, when the data directory is first initialised
# (files in /docker-entrypoint-initdb.d): one role and one database per word service, each
# role owning only its database, so a compromised verbs service cannot read the nouns.
# Passwords come from the environment (Secret postgres-secrets, made by scripts/deploy.sh) and
# reach SQL only as psql variables, quoted by psql itself.
set -euo pipefail

create_service_database() {
  local name="$1" password="$2"
  if [[ -z "$password" ]]; then
    echo "init-databases: no password for $name (Secret postgres-secrets incomplete)" >&2
    return 1
  fi
  psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-postgres}" -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
  echo "init-databases: created role and database $name"
}

create_service_database verbs "${VERBS_DB_PASSWORD:-}"
create_service_database nouns "${NOUNS_DB_PASSWORD:-}"
