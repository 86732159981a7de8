#!/bin/sh
# Install the tools `make bench` measures twinbox against, when they are
# missing: isync (mbsync) for IMAP, mpop for POP3, interimap for the
# migration between two IMAP servers, offlineimap3 (OfflineIMAP in its
# IDLE mode) for the watcher (make bench-watch).
exec "$(dirname "$0")/install-deps.sh" isync mpop interimap offlineimap3
