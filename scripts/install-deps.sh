#!/bin/sh
# Install the Debian packages twinbox needs to build and test, when they
# are missing. Does nothing when everything is present. Uses sudo when not
# run as root. Called by `make check`; safe to run by hand.
# With arguments, installs those packages instead (scripts/bench-deps.sh).
set -eu

# Build: compiler, pkg-config and the libraries (zlib for IMAP
# COMPRESS=DEFLATE, RFC 4978, which requires deflate).
# Tests: Criterion; a real Dovecot (IMAP + POP3) and its doveadm
# (dovecot-core also creates the unprivileged users the fixture runs mail
# processes as when started by root); clang and its runtime for the
# libFuzzer targets; isync (mbsync), whose Maildir twinbox must adopt;
# python3, whose json module reads the output of `sync --json`; GNU
# parallel and jq, the fleet recipe of `migrate --fleet` (README).
PACKAGES="
gcc
make
pkg-config
libgnutls28-dev
libsqlite3-dev
libyaml-dev
zlib1g-dev
libcriterion-dev
dovecot-core
dovecot-imapd
dovecot-pop3d
isync
clang
libclang-rt-14-dev
ca-certificates
python3
parallel
jq
"

[ $# -gt 0 ] && PACKAGES="$*"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: these Debian packages are missing:$missing" >&2
	echo "install-deps: run this script as root, or install them with apt-get." >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# The Debian packages try to start a system-wide Dovecot; the tests never
# use it, so a policy-rc.d refusal or a failed start is harmless.
$SUDO apt-get install -y -q --no-install-recommends $missing
