#!/bin/sh
# Fail when a test log holds a sanitizer report, except a leak whose
# every stack frame lies in libcriterion itself: Criterion 2.4's runner
# leaks one 48-byte block per run (not twinbox code, not fixable here).
# Leaks reached through twinbox or test code always count: their stacks
# have frames outside libcriterion.
# Usage: sanitizer-gate.sh LOG
set -eu
log=$1
awk '
/ERROR: [A-Za-z]+Sanitizer/ && !/LeakSanitizer/ { bad = 1; print; next }
/runtime error:/ { bad = 1; print; next }
/^(Direct|Indirect) leak of/ { inleak = 1; ours = 0; head = $0; next }
inleak && /^ *#[0-9]+ / {
	if ($0 !~ /libcriterion\.so/ && $0 !~ /in (__interceptor_|malloc|calloc|realloc)/) ours = 1
	next
}
inleak {
	if (ours) { bad = 1; print head " (outside libcriterion)" }
	inleak = 0
}
END { if (inleak && ours) { bad = 1; print head " (outside libcriterion)" }; exit bad ? 1 : 0 }
' "$log"
