"""burnin inside the engines fleets already use: Ironic's ramdisk agent (ironic.py, with the agent-independent
step runner in steps.py). Ansible's role lives in scripts/ansible/; it drives the `burnin` command itself."""
