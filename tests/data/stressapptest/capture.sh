#!/bin/sh
# Re-capture the stressapptest outputs in this folder (needs stressapptest; small: 64 MiB, a few seconds each).
set -u
cd "$(dirname "$0")"
run() { name=$1; shift; "$@" > "$name.stdout" 2> "$name.stderr"; echo $? > "$name.rc"; echo "$*" > "$name.argv"; }
run pass stressapptest -M 64 -s 3 -m 2
run fail stressapptest -M 64 -s 3 -m 2 --force_errors
run badopt stressapptest -M 64 -s 5 -m 1 --bogus_option
run toobig stressapptest -M 200000 -s 1 -m 1
stressapptest -M 64 -s 20 -m 1 > interrupted.stdout 2> interrupted.stderr & pid=$!
sleep 3; kill -INT $pid; wait $pid; echo $? > interrupted.rc
echo "stressapptest -M 64 -s 20 -m 1   (SIGINT after 3 s)" > interrupted.argv
rm -f ./*.stderr  # stressapptest writes everything to stdout
