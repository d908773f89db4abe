#!/bin/bash
# Run once by the postgres image's entrypoint when it creates the cluster (an empty data
# volume): one database per word service, each owned by its own login role, so neither
# service can read or change the other's words. Passwords come from the environment
# (compose.yaml); psql's :'name' quoting keeps them out of the SQL text.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v verbs_password="${VERBS_DB_PASSWORD:?}" -v nouns_password="${NOUNS_DB_PASSWORD:?}" <<'SQL'
CREATE ROLE verbs LOGIN PASSWORD :'verbs_password';
CREATE ROLE nouns LOGIN PASSWORD :'nouns_password';
CREATE DATABASE verbs OWNER verbs;
CREATE DATABASE nouns OWNER nouns;
REVOKE ALL ON DATABASE verbs FROM PUBLIC;
REVOKE ALL ON DATABASE nouns FROM PUBLIC;
SQL
