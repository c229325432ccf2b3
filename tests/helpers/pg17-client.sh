#!/usr/bin/env bash
# Installs the PostgreSQL 17 client tools (pg_dump, pg_restore, psql) into DIR from Debian 13
# (trixie)'s packages on deb.debian.org, for the tests and the backup bench on a Debian 12 machine,
# whose own packages stop at PostgreSQL 15. The tools need glibc 2.38 (Debian 12 has 2.36), so they
# run through trixie's own dynamic loader and C library, with this machine's libraries after them
# for the rest (Kerberos, SASL, GnuTLS: same sonames). DIR/bin holds one wrapper script per tool.
# Usage: pg17-client.sh DIR   (does nothing when DIR/bin/pg_dump already runs)
set -euo pipefail
dir="${1:?usage: pg17-client.sh DIR}"
if "$dir/bin/pg_dump" --version 2>/dev/null | grep -q "PostgreSQL) 17"; then exit 0; fi
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$(dirname "$dir")"
work="$(mktemp -d "${dir%/}.tmp.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/root" "$work/bin"
curl -fsS --retry 3 "$mirror/dists/trixie/main/binary-amd64/Packages.xz" | xz -dc > "$work/Packages"
for pkg in libc6 libpq5 postgresql-client-17 libssl3t64 libzstd1 liblz4-1 libxxhash0 libldap2; do
  file="$(awk -v P="$pkg" '$1 == "Package:" { p = $2 } $1 == "Filename:" && p == P { print $2; exit }' "$work/Packages")"
  [ -n "$file" ] || { echo "pg17-client.sh: package $pkg not in trixie's index" >&2; exit 1; }
  curl -fsS --retry 3 -o "$work/debs/${file##*/}" "$mirror/$file"
  dpkg-deb -x "$work/debs/${file##*/}" "$work/root"
done
rm -rf "$work/debs" "$work/Packages"
for tool in pg_dump pg_restore psql; do
  cat > "$work/bin/$tool" <<WRAP
#!/bin/sh
r="$dir/root"
exec "\$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "\$r/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu" "\$r/usr/lib/postgresql/17/bin/$tool" "\$@"
WRAP
  chmod 755 "$work/bin/$tool"
done
rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
chmod -R a+rX "$dir"
"$dir/bin/pg_dump" --version
