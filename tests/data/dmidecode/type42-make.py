import struct, uuid, ipaddress
def ip4(s): return ipaddress.IPv4Address(s).packed + b"\0"*12
def type42():
    desc = bytes([0x11]) + struct.pack("<HH", 0x0d28, 0x0204) + bytes([0]) + bytes.fromhex("724577aaf787") + struct.pack("<HH", 1, 0xffff)
    u = uuid.UUID("d53c5478-bbd5-8d40-94db-0836e2c0f01e").bytes_le
    host = b"192.168.122.10\0"
    rec = u + bytes([1, 1]) + ip4("192.168.122.9") + ip4("255.255.255.0") + bytes([1, 1]) + ip4("192.168.122.10") + ip4("255.255.255.0") + struct.pack("<HI", 443, 0) + bytes([len(host)]) + host
    body = bytes([0x40, 1 + len(desc), 0x04]) + desc + bytes([1, 0x04, len(rec)]) + rec
    return bytes([42, 4 + len(body)]) + struct.pack("<H", 4) + body + b"\0\0"
table = type42() + bytes([127, 4, 0xff, 0xfe, 0, 0])
ep = bytearray(b"_SM3_" + bytes([0, 0x18, 3, 4, 0, 1, 0]) + struct.pack("<IQ", len(table), 32))
ep[5] = (-sum(ep)) & 0xff
open("/tmp/rf/t42.bin","wb").write(bytes(ep) + b"\0"*(32-len(ep)) + table)
