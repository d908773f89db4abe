#!/bin/bash
# Entrypoint of the test's PostgreSQL stand-in (see Dockerfile): create the cluster on first
# start from the POSTGRES_* variables, run /docker-entrypoint-initdb.d, then exec postgres.
set -euo pipefail

if [[ ${1:-} == -* ]]; then
    set -- postgres "$@"
fi
if [[ ${1:-} != postgres ]]; then
    exec "$@"
fi

mkdir -p "$PGDATA"
# Failures are fine when not root and the directory is already right.
chmod 0700 "$PGDATA" 2>/dev/null || :

if [[ $(id -u) == 0 ]]; then
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
export POSTGRES_USER POSTGRES_DB

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    : "${POSTGRES_PASSWORD:?the stand-in, like the official image, needs POSTGRES_PASSWORD}"
    echo "stand-in entrypoint: creating the cluster in $PGDATA"
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"

    # A server on the socket only while initialising, so nobody connects over TCP before
    # the databases and roles exist; given the same options as the real one ("$@" minus
    # "postgres"), e.g. the socket directory.
    pg_ctl -D "$PGDATA" -o "$(printf '%q ' "${@:2}") -c listen_addresses=''" -w start >/dev/null
    export PGUSER=$POSTGRES_USER PGPASSWORD=$POSTGRES_PASSWORD
    if [[ $POSTGRES_DB != postgres ]]; then
        # psql quotes the name (:"db"); it interpolates only in what it reads, not in -c.
        psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname postgres -v db="$POSTGRES_DB" \
            <<<'CREATE DATABASE :"db";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sh)
                if [[ -x $f ]]; then
                    echo "stand-in entrypoint: running $f"; "$f"
                else
                    echo "stand-in entrypoint: sourcing $f"
                    # shellcheck source=/dev/null
                    . "$f"
                fi ;;
            *.sql)
                echo "stand-in entrypoint: running $f"
                psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "$POSTGRES_DB" -f "$f" ;;
            *)
                if [[ -e $f ]]; then echo "stand-in entrypoint: ignoring $f"; fi ;;
        esac
    done
    unset PGPASSWORD
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "stand-in entrypoint: cluster ready"
fi

exec "$@"
