#!/usr/bin/env bash
# expect_error.sh REGEX OUT_DIR CMD [ARGS...]: CMD must fail cleanly — exit status 1..127 (no
# signal, no sanitizer abort), a stderr line matching REGEX, and nothing left in OUT_DIR.
set -u
regex=$1 out=$2
shift 2
rm -rf "$out" && mkdir -p "$out"
err=$("$@" 2>&1 >/dev/null)
rc=$?
echo "$err"
if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then echo "expect_error: exit status $rc, expected 1..127"; exit 1; fi
if ! grep -Eq -- "$regex" <<<"$err"; then echo "expect_error: no stderr line matches: $regex"; exit 1; fi
if [ -n "$(ls -A "$out")" ]; then echo "expect_error: files left behind in $out: $(ls -A "$out")"; exit 1; fi
echo "expect_error: ok (exit status $rc)"
