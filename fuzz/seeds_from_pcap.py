#!/usr/bin/env python3
"""Seeds for the frame fuzz targets from a real capture.

    fuzz/seeds_from_pcap.py CAPTURE.pcap [MAX_PER_TARGET]

Reads an Ethernet pcap (as dpstack's --pcap or tcpdump -w write it) and
writes, under fuzz/seeds/<target>/, inputs in the targets' format: a mode
byte (0: checksums verified, as on a wire) then length-prefixed pieces
(one byte, or 0xff and two bytes big-endian). Each seed holds up to eight
consecutive frames of one kind, so that exchanges (a handshake, a request
and its reply) stay together. pcap_reader gets the capture's first
records as a file.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def records(path):
    with open(path, "rb") as f:
        header = f.read(24)
        magic = struct.unpack("<I", header[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            _, _, incl, _ = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            yield header, rec, data


def piece(data):
    if len(data) < 0xFF:
        return bytes([len(data)]) + data
    return b"\xff" + struct.pack(">H", len(data)) + data


def main():
    path = sys.argv[1]
    most = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    kinds = {"ethernet_arp": [], "ipv4_fragments": [], "icmp": [], "udp": [], "tcp_segment": []}
    first = []
    header = None
    for item in records(path):
        if len(item) != 3:
            break
        header, rec, frame = item
        if len(first) < 16:
            first.append(rec + frame)
        if len(frame) < 14:
            continue
        ethertype = struct.unpack(">H", frame[12:14])[0]
        if ethertype == 0x0806:
            kinds["ethernet_arp"].append(frame)
            continue
        if ethertype != 0x0800 or len(frame) < 34:
            continue
        ip = frame[14:]
        kinds["ipv4_fragments"].append(ip)
        ihl = (ip[0] & 0x0F) * 4
        body = ip[ihl:]
        proto = {1: "icmp", 17: "udp", 6: "tcp_segment"}.get(ip[9])
        if proto:
            kinds[proto].append(body)
        kinds["ethernet_arp"].append(frame)
    for target, pieces in kinds.items():
        out = os.path.join(HERE, "seeds", target)
        os.makedirs(out, exist_ok=True)
        for n in range(min(most, (len(pieces) + 7) // 8)):
            group = pieces[8 * n : 8 * n + 8]
            with open(os.path.join(out, f"capture{n}"), "wb") as f:
                f.write(b"\x00" + b"".join(piece(p) for p in group))
    if header and first:
        out = os.path.join(HERE, "seeds", "pcap_reader")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "capture"), "wb") as f:
            f.write(header + b"".join(first))


if __name__ == "__main__":
    main()
