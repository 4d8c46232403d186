#!/bin/bash
# The smallest job: how long a boot takes, and what the guest sees.
echo "hello from $(hostname), kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime)"
burnin --version
lsblk -d -o NAME,SERIAL,TRAN,SIZE
ip -br link
