#!/bin/bash
# The machine's previous life, on the rig (tests/rig/test_previous_life.py). Three boots in one QEMU process
# (started without -no-reboot, so a reset boots again with RAM kept, and ramoops keeps the kernel's last words):
#   boot 1: `burnin run` with the hardware watchdog armed (QEMU's i6300esb, profile rig-watchdog); once the journal
#           says it is armed, burnin is stopped (SIGSTOP): nothing pets the watchdog, and it resets the machine
#   boot 2: `burnin report` of that journal (the run that never finished), then a kernel crash (sysrq c), which
#           ramoops saves, and panic=-1 reboots
#   boot 3: `burnin check --only history`: the crash of boot 2, read back from pstore; then the guest powers off
# What each boot saw goes to RIG_OUT; RIG_OUT/stage says which boot comes next.
set -u
OUT=$RIG_OUT
mkdir -p /sys/fs/pstore
mountpoint -q /sys/fs/pstore || mount -t pstore pstore /sys/fs/pstore
modprobe ramoops 2>> "$OUT/modprobe.log"
stage=$(cat "$OUT/stage" 2>/dev/null || echo 1)
echo "boot $stage at uptime $(cut -d' ' -f1 /proc/uptime) $(date -u +%FT%TZ)" >> "$OUT/boots.txt"
case $stage in
1)
    ls -l /sys/fs/pstore > "$OUT/pstore-boot1.txt" 2>&1
    # q35's ICH9 TCO timer (iTCO_wdt) would take /dev/watchdog first, and QEMU does not reset on it by default:
    # the rig's watchdog is the i6300esb
    modprobe -r iTCO_wdt 2>> "$OUT/modprobe.log"
    modprobe i6300esb 2>> "$OUT/modprobe.log"
    { ls -l /dev/watchdog*; grep . /sys/class/watchdog/*/identity; } > "$OUT/watchdog-dev.txt" 2>&1
    echo 2 > "$OUT/stage"
    sync
    burnin run --profile "$RIG_SHARE/profiles/rig-watchdog.toml" --plain --journal "$OUT/soak.jsonl" \
        > "$OUT/soak.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 900); do
        grep -q "hardware watchdog" "$OUT/soak.jsonl" 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 1
    done
    grep "hardware watchdog" "$OUT/soak.jsonl" > "$OUT/armed.txt" 2>&1
    sleep 5  # a few pets, so the journal shows the run going
    date -u +%s > "$OUT/hang-started"
    kill -STOP $pid  # the hang: burnin's runner stops, nothing pets the watchdog
    sync
    sleep 600  # the watchdog resets the machine long before this ends
    echo "the watchdog did not fire within 600 s" > "$OUT/watchdog-did-not-fire"
    exit 1
    ;;
2)
    burnin report "$OUT/soak.jsonl" > "$OUT/unfinished-report.txt" 2>&1
    echo "rc=$?" >> "$OUT/unfinished-report.txt"
    echo 3 > "$OUT/stage"
    sync
    echo 1 > /proc/sys/kernel/sysrq
    echo c > /proc/sysrq-trigger
    sleep 120
    echo "sysrq c did not crash the kernel" > "$OUT/no-crash"
    exit 1
    ;;
3)
    ls -l /sys/fs/pstore > "$OUT/pstore-boot3.txt" 2>&1
    burnin check --only history --plain --json --journal "$OUT/history.jsonl" > "$OUT/history.json" \
        2> "$OUT/history.log"
    rc=$?
    echo "rc=$rc" >> "$OUT/history.log"
    echo done > "$OUT/stage"
    exit 0
    ;;
esac
