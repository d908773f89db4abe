#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server: initdb into a temporary folder, start
# it on a free loopback port, export DATABASE_URL, run "$@", then stop and delete it.
# Needs Debian's postgresql package (the server binaries); nothing else is touched.
set -euo pipefail

die() { printf 'with-postgres: %s\n' "$*" >&2; exit 1; }

bindir="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)"
[[ -n "$bindir" && -x "$bindir/initdb" ]] ||
  die "PostgreSQL server binaries not found; install them with: apt-get install postgresql"

workdir="$(mktemp -d /tmp/wordmix-pg.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# initdb refuses to run as root: run the server as the postgres user the package made.
as_owner=()
if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (apt-get install postgresql)"
  chown postgres: "$workdir"
  as_owner=(runuser -u postgres --)
fi

printf '%s\n' "$password" >"$workdir/pwfile"
chmod 600 "$workdir/pwfile"
[[ ${#as_owner[@]} -eq 0 ]] || chown postgres: "$workdir/pwfile"

stop() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
# The server runs in a session of its own (pg_ctl makes it one), so no signal sent to this
# script's process group reaches it: it stops here, on every way out. SIGINT cannot be
# trapped when it was ignored on entry (a background job): then SIGTERM is the way.
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"${as_owner[@]}" "$bindir/initdb" -D "$workdir/data" -U wordmix --pwfile="$workdir/pwfile" \
  --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$workdir/initdb.log" 2>&1 ||
  { cat "$workdir/initdb.log" >&2; die "initdb failed"; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $workdir -c fsync=off" start >/dev/null ||
  { cat "$workdir/server.log" >&2; die "the server did not start"; }

export DATABASE_URL="postgres://wordmix:${password}@127.0.0.1:${port}/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:${port}" >&2
"$@"
