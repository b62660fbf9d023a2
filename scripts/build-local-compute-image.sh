#!/usr/bin/env bash
# Builds a compute image without a registry: a root filesystem assembled from a PostgreSQL
# installation on this machine (its binaries, share files, the libraries ldd lists, a shell,
# a passwd entry for the computes' OS user), loaded with `docker import`.
#
#   scripts/build-local-compute-image.sh PG_BIN_DIR [TAG] [OS_USER]
#
# TAG defaults to lampion/compute:<major>, the name LAMPION_COMPUTE_IMAGE's default asks for.
# The installation keeps its own path inside the image, and its bin directory heads PATH.
set -euo pipefail

bin_dir=$(realpath "${1:?usage: $0 PG_BIN_DIR [TAG] [OS_USER]}")
os_user=${3:-postgres}
version=$("$bin_dir/postgres" --version | sed -E 's/.*\(PostgreSQL\) ([0-9]+)(\.[0-9]+)?.*/\1\2/')
major=${version%%.*}
tag=${2:-lampion/compute:$major}
prefix=$(dirname "$bin_dir")

root=$(mktemp -d "${TMPDIR:-/tmp}/lampion-compute-rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/usr/{bin,lib,lib64} "$root"/{etc,tmp,dev,proc,sys,var/run}
chmod 1777 "$root/tmp"
for link in bin lib lib64 sbin; do
    [ -e "$root/$link" ] || ln -s "usr/${link/sbin/bin}" "$root/$link"
done

copy() {  # copies the paths that exist into the root filesystem, at the same place
    local present=()
    for path in "$@"; do
        [ -e "$path" ] && present+=("${path#/}")
    done
    [ ${#present[@]} -eq 0 ] || tar -C / -cf - "${present[@]}" | tar -C "$root" -xf -
}

# The installation (without headers and static libraries), and its share dir when elsewhere.
tar -C / --exclude='*.a' --exclude="${prefix#/}/include" -cf - "${prefix#/}" | tar -C "$root" -xf -
if [ -x "$bin_dir/pg_config" ]; then
    for dir in sharedir pkglibdir; do
        copy "$("$bin_dir/pg_config" --"$dir")"
    done
fi
copy /usr/share/zoneinfo /usr/lib/locale/C.utf8 /usr/lib/locale/locale-archive
copy /usr/bin/dash
ln -sf dash "$root/usr/bin/sh"
# what the WAL archive and restore commands run (compute/layout.py)
archive_tools=(/usr/bin/cp /usr/bin/mv /usr/bin/cmp /usr/bin/sync)
copy "${archive_tools[@]}"
# the compute's PgBouncer (compute/pooler_docker.py runs it in the container), when installed
pooler_tools=()
pgbouncer_version=none
if [ -x /usr/sbin/pgbouncer ]; then
    pooler_tools=(/usr/sbin/pgbouncer)
    pgbouncer_version=$(/usr/sbin/pgbouncer --version | sed -n 's/^PgBouncer //p')
    copy "${pooler_tools[@]}"
fi

# Every shared library the binaries and modules need, and the dynamic loader.
find "$root$prefix" "$root/usr/bin/dash" "${archive_tools[@]/#/$root}" "${pooler_tools[@]/#/$root}" -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
    sed -z "s|^$root||" |
    { xargs -0 -r ldd 2>/dev/null || true; } |  # (ldd fails on scripts: ignore)
    awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' |
    sort -u |
    while read -r library; do
        # the library under its name, and the file a symlink points at
        copy "$(realpath -s "$library")" "$(realpath "$library")"
    done

uid=$(id -u "$os_user")
gid=$(id -g "$os_user")
printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:%s:PostgreSQL:/tmp:/bin/sh\n' \
    "$os_user" "$uid" "$gid" >"$root/etc/passwd"
printf 'root:x:0:\n%s:x:%s:\n' "$os_user" "$gid" >"$root/etc/group"

tar -C "$root" -cf - . | docker import \
    --change "ENV PATH=$bin_dir:/usr/bin:/bin" \
    --change "ENV LC_ALL=C.UTF-8" \
    --change "USER $uid:$gid" \
    --change "LABEL org.lampion.pg_version=$version org.lampion.pg_bin=$bin_dir org.lampion.image_format=2 org.lampion.pgbouncer=$pgbouncer_version" \
    --change 'CMD ["postgres", "--version"]' \
    - "$tag" >/dev/null
echo "$tag (PostgreSQL $version from $bin_dir)"
