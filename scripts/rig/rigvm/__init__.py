"""The QEMU test rig: the emulated server (server.py), its SMBIOS DIMM table (smbios.py), a QMP client for
fault injection (qmp.py) and a running guest with a command channel over 9p (guest.py). Standard library only:
the rig runs with any python3 on the host."""
