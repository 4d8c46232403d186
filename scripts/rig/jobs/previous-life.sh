#!/bin/bash
# The machine's previous life, on the rig (tests/rig/test_previous_life.py). Two boots in one QEMU process (started
# without -no-reboot, so a reset boots again with RAM kept, and ramoops keeps the kernel's last words; panic=0, so a
# panicked kernel hangs as a real server's does):
#   boot 1: `burnin run` with the hardware watchdog armed (QEMU's i6300esb, profile rig-watchdog); once the journal
#           says it is armed, the kernel crashes (sysrq c): ramoops saves the panic, the dead kernel hangs, nothing
#           pets the watchdog any more, and the watchdog resets the machine
#   boot 2: `burnin report` of that journal (the run that never finished) and `burnin check --only history` (the
#           panic of boot 1, read back from pstore); then the guest powers off
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
    # q35's ICH9 TCO timer (iTCO_wdt) may register first, and QEMU does not reset on it by default: the rig's
    # watchdog is the i6300esb, loaded first so that it is /dev/watchdog
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
    date -u +%s > "$OUT/crash-time"
    sync
    echo 1 > /proc/sys/kernel/sysrq
    echo c > /proc/sysrq-trigger  # the kernel panics and hangs (panic=0): only the watchdog can bring it back
    sleep 600
    echo "the machine neither crashed nor reset within 600 s" > "$OUT/watchdog-did-not-fire"
    exit 1
    ;;
2)
    ls -l /sys/fs/pstore > "$OUT/pstore-boot2.txt" 2>&1
    burnin report "$OUT/soak.jsonl" > "$OUT/unfinished-report.txt" 2>&1
    echo "rc=$?" >> "$OUT/unfinished-report.txt"
    burnin check --only history --plain --json --journal "$OUT/history.jsonl" > "$OUT/history.json" \
        2> "$OUT/history.log"
    echo "rc=$?" >> "$OUT/history.log"
    echo done > "$OUT/stage"
    exit 0
    ;;
esac
