#!/bin/bash
# Faults from inside the guest while burnin runs (host-side faults need QMP: see README.md): an LM75 at 90 C,
# an uncorrected memory error line in the kernel log, unreadable sectors on a scsi_debug disk, an NVMe drive over
# its temperature threshold. Expect exit status 1 (FAIL) and those components named in faults.log.
mkdir -p /var/tmp/rig
echo on > /proc/sys/kernel/printk_devkmsg
rig-fault lm75-add 45.5
rig-fault scsi-debug-add
burnin run --profile "$RIG_SHARE/profiles/rig-faults.toml" --duration 90s --json \
    --journal /var/tmp/rig/faults.jsonl > "$RIG_OUT/faults.json" 2> "$RIG_OUT/faults.log" &
pid=$!
until grep -q "== stress and monitor" "$RIG_OUT/faults.log" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || break
    sleep 1
done
sleep 5; rig-fault lm75-set 90
sleep 3; rig-fault kmsg 3 "EDAC MC0: 1 UE memory read error on CPU1_DIMM_A1 (channel:0 slot:0 page:0x1234 offset:0x0)"
sleep 3; rig-fault nvme-overtemp nvme1
sleep 3; rig-fault read-bad-sector
wait $pid
rc=$?
cp /var/tmp/rig/faults.jsonl "$RIG_OUT/"
grep -E "FAIL|WARN" "$RIG_OUT/faults.log" | head -40
exit $rc
