#!/bin/bash
# Captures real stress-ng outputs for tests/data/stress-ng/. Run as root on a Linux host with stress-ng and gdb.
set -u
out=${1:-.}
run() {  # run CASE ARGV... : stderr, stdout, exit code and argv of one stress-ng run
  local case=$1; shift
  echo "$*" > "$out/$case.argv"
  "$@" > "$out/$case.stdout" 2> "$out/$case.stderr"; echo $? > "$out/$case.rc"
}
base() { echo stress-ng --cpu 1 --cpu-method all --verify --taskset 1 --timeout ${2}s --metrics-brief --yaml $out/$1.yaml --temp-path /tmp -v; }
run ok $(base ok 3)
# A real wrong result: flip bit 4 of rax/rdx/rcx in the running stressor with gdb, as a faulty core would
# (30 rounds in the first run gave rc 0 -- nothing hit a verified value; 60 rounds below gave this capture).
stress-ng --cpu 1 --cpu-method all --verify --taskset 1 --timeout 12s --metrics-brief --yaml $out/bitflip.yaml --temp-path /tmp -v > $out/bitflip.stdout 2> $out/bitflip.stderr & P=$!
echo stress-ng --cpu 1 --cpu-method all --verify --taskset 1 --timeout 12s --metrics-brief --yaml $out/bitflip.yaml --temp-path /tmp -v > $out/bitflip.argv
sleep 1; child=$(pgrep -P $P | head -1)
for i in $(seq 1 60); do for r in rax rdx rcx; do gdb -q -batch -p "$child" -ex "set \$$r=\$$r^0x10" >/dev/null 2>&1; done; sleep 0.05; done
wait $P; echo $? > $out/bitflip.rc
# A stressor that dies on SIGSEGV (as a core with a bad cache line might make it).
( run segv $(base segv 6) ) & sleep 1.5
pkill -SEGV -f stress-ng-cpu; wait
# Stopped early by SIGINT to its main process, as burnin stops it on cancellation.
$(base interrupted 10) > $out/interrupted.stdout 2> $out/interrupted.stderr & P=$!
base interrupted 10 > $out/interrupted.argv
sleep 1.5; kill -INT $P; wait $P; echo $? > $out/interrupted.rc
run bad-method stress-ng --cpu 1 --cpu-method nosuch --verify --taskset 1 --timeout 1s --metrics-brief -v
run no-resources stress-ng --uprobe 1 --timeout 2s --metrics-brief -v
run unsupported stress-ng --apparmor 1 --timeout 2s --metrics-brief -v
