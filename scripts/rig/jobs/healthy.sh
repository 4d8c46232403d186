#!/bin/bash
# A whole burnin run on the emulated server, unattended: the rig profile (ci with budgets for emulation).
# Results in RUN/share/out: healthy.jsonl (journal), healthy.json (verdict), healthy.log (progress lines).
# The job's exit status is burnin's (0 PASS/WARN, 1 FAIL, 3 ERROR): boot-guest exits with it.
mkdir -p /var/tmp/rig
burnin modules > "$RIG_OUT/modules.txt"
burnin run --profile "$RIG_SHARE/profiles/rig.toml" --json --journal /var/tmp/rig/healthy.jsonl \
    > "$RIG_OUT/healthy.json" 2> "$RIG_OUT/healthy.log"
rc=$?
cp /var/tmp/rig/healthy.jsonl "$RIG_OUT/"
tail -40 "$RIG_OUT/healthy.log"
exit $rc
