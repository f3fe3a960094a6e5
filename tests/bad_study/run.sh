#!/usr/bin/env bash
# The paper study's bad-configuration catalogue: each tests/bad_study/*.yaml starts with
# "# expect: <text>"; paper_study must exit 1, print that text and write nothing.
#   tests/bad_study/run.sh PAPER_STUDY SOURCE_DIR
set -uo pipefail
bin=$1
cd "$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
for f in tests/bad_study/*.yaml; do
  n=$((n + 1))
  expect=$(head -1 "$f" | sed -n 's/^# expect: //p')
  [ -n "$expect" ] || { echo "$f: no '# expect: ' line"; fail=1; continue; }
  err=$("$bin" --config "$f" -o "$tmp/out" -q 2>&1 >/dev/null)
  code=$?
  [ "$code" = 1 ] || { echo "$f: exit $code, expected 1"; fail=1; }
  case "$err" in *"$expect"*) ;; *) echo "$f: expected \"$expect\", got \"$err\""; fail=1 ;; esac
  [ ! -e "$tmp/out" ] || { echo "$f: output written despite the error"; fail=1; rm -rf "$tmp/out"; }
done
[ "$n" -ge 4 ] || { echo "only $n cases"; fail=1; }
exit $fail
