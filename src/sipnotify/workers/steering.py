"""Which worker a remote address belongs to, and the kernel program that steers it there.

Every worker holds a UDP socket bound to the same address (SO_REUSEPORT). Left alone, the
kernel picks among them by a hash it keeps to itself, and the pick changes when a socket
joins or leaves. Instead a classic BPF program attached to the group returns the index of
the socket that takes each datagram: (the source IPv4 address, or the low 32 bits of an
IPv6 one, plus the source port) modulo the number of workers. `owner` computes the same in
Python, so a worker knows which of its siblings a phone's datagrams reach. The supervisor
keeps every socket of the group open, so the indices never move, not even while a worker
restarts.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct

SO_ATTACH_REUSEPORT_CBPF = 51  # <asm-generic/socket.h>; Python does not name it
SKF_NET_OFF = -0x100000  # BPF loads relative to the network header
MASK = 0xFFFFFFFF

# Classic BPF opcodes (<linux/filter.h>)
_LD, _LDX, _ALU, _JMP, _RET, _MISC = 0x00, 0x01, 0x04, 0x05, 0x06, 0x07
_W, _H, _B = 0x00, 0x08, 0x10
_ABS, _IND, _MSH = 0x20, 0x40, 0xA0
_ADD, _RSH, _MOD, _JEQ = 0x00, 0x70, 0x90, 0x10
_K, _X, _A, _TAX = 0x00, 0x08, 0x10, 0x00


def owner(host: str, port: int, count: int) -> int:
    """The index (0 to count - 1) of the worker whose socket receives datagrams from
    host:port; the Python twin of `program`."""
    ip = ipaddress.ip_address(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ((int(ip) + port) & MASK) % count


def _op(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & MASK)


def program(count: int) -> bytes:
    """The steering program for `count` sockets, as `struct sock_filter[]`."""
    v4 = [
        _op(_LDX | _B | _MSH, SKF_NET_OFF),  # X = the IPv4 header's length
        _op(_LD | _H | _IND, SKF_NET_OFF),  # A = the UDP source port, just after it
        _op(_MISC | _TAX),  # X = A
        _op(_LD | _W | _ABS, SKF_NET_OFF + 12),  # A = the source address
    ]
    v6 = [
        _op(_LD | _H | _ABS, SKF_NET_OFF + 40),  # the source port (no extension headers)
        _op(_MISC | _TAX),
        _op(_LD | _W | _ABS, SKF_NET_OFF + 20),  # the source address's low 32 bits
    ]
    tail = [_op(_ALU | _ADD | _X), _op(_ALU | _MOD | _K, count), _op(_RET | _A)]
    head = [
        _op(_LD | _B | _ABS, SKF_NET_OFF),  # the IP version, in the first byte's high half
        _op(_ALU | _RSH | _K, 4),
        _op(_JMP | _JEQ | _K, 4, jt=0, jf=len(v4) + len(tail)),
    ]
    return b"".join([*head, *v4, *tail, *v6, *tail])


def attach(sock: socket.socket, count: int) -> None:
    """Steer the reuseport group `sock` belongs to with `program(count)`."""
    code = program(count)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HL", len(code) // 8, ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
