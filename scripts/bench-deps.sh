#!/bin/sh
# Install the tools `make bench` measures twinbox against, when they are
# missing: isync (mbsync) for IMAP, mpop for POP3, interimap for the
# migration between two IMAP servers.
exec "$(dirname "$0")/install-deps.sh" isync mpop interimap
