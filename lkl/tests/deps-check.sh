#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# deps.sh names the package of every program the build calls: each program
# is hidden from PATH in turn and deps.sh must fail and name its package.
# The table is ours, not deps.sh's: it lists what a traced cold build
# (`strace -f -e execve npm install`) ran, outside Debian's Essential set
# (coreutils, sed, grep, bash, ... cannot be missing), plus the tests' tools.
set -u
deps="$(dirname "$0")/../deps.sh"
[ -f "$deps" ] || deps="$(cd "$(dirname "$0")/../../../lkl" && pwd)/deps.sh"

table="gcc:gcc g++:g++ make:make flex:flex bison:bison bc:bc python3:python3
perl:perl prove:perl ld:binutils as:binutils ar:binutils nm:binutils
objcopy:binutils tar:tar xz:xz-utils patch:patch rsync:rsync cmp:diffutils
find:findutils xargs:findutils ccache:ccache mke2fs:e2fsprogs
e2fsck:e2fsprogs debugfs:e2fsprogs dumpe2fs:e2fsprogs tune2fs:e2fsprogs
valgrind:valgrind fio:fio"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One directory standing for the whole PATH (the first of each name wins,
# as in a PATH search); a program is hidden by removing its link.
bin="$tmp/bin"
mkdir -p "$bin"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
	[ -d "$d" ] && find "$d" -maxdepth 1 \( -type f -o -type l \) -perm -u+x \
		-print0 | xargs -0r ln -s -t "$bin" 2>/dev/null
done
# Keep the shell that runs deps.sh and the programs it needs itself.
bash_path=$(command -v bash)

n=$(( $(wc -w <<<"$table") + 3 ))
echo "1..$n"
i=0
ok() { i=$((i + 1)); echo "ok $i - $1"; }
not_ok() { i=$((i + 1)); echo "not ok $i - $1"; printf '# %s\n' "$2"; }

# Everything present: deps.sh is satisfied (the build ran on this machine).
if out=$(LKL_DEPS_NO_INSTALL=1 bash "$deps" 2>&1); then
	ok "nothing missing on this machine"
else
	not_ok "nothing missing on this machine" "$out"
fi

for entry in $table; do
	tool=${entry%%:*} pkg=${entry#*:}
	link="$bin/$tool"
	target=$(readlink "$link")
	rm -f "$link"
	if out=$(PATH="$bin" LKL_DEPS_NO_INSTALL=1 "$bash_path" "$deps" 2>&1); then
		not_ok "without $tool deps.sh fails" "it exited 0"
	elif grep -qw -- "$pkg" <<<"$out" && grep -q "apt-get install" <<<"$out"; then
		ok "without $tool deps.sh names $pkg"
	else
		not_ok "without $tool deps.sh names $pkg" "$out"
	fi
	[ -n "$target" ] && ln -s "$target" "$link"
done

out=$(LKL_DEPS_INCLUDE_DIR="$tmp/none" LKL_DEPS_NO_INSTALL=1 bash "$deps" 2>&1)
if [ $? -ne 0 ] && grep -qw liburing-dev <<<"$out"; then
	ok "without liburing.h deps.sh names liburing-dev"
else
	not_ok "without liburing.h deps.sh names liburing-dev" "$out"
fi

out=$(LKL_KERNEL_SOURCE="$tmp/missing.tar.xz" LKL_DEPS_NO_INSTALL=1 bash "$deps" 2>&1)
if [ $? -ne 0 ] && grep -q "LKL_KERNEL_SOURCE" <<<"$out"; then
	ok "a missing LKL_KERNEL_SOURCE is reported"
else
	not_ok "a missing LKL_KERNEL_SOURCE is reported" "$out"
fi
