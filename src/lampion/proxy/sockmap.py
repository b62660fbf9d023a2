"""In-kernel relay for proxied sessions: an eBPF sockhash with an sk_skb verdict program.

After the startup phase each socket's incoming bytes are redirected by the kernel to its
peer's outgoing queue, so the proxy's fast path costs no user-space work at all. Bytes are
then counted from TCP_INFO. Needs Linux with BPF (root or CAP_BPF + CAP_NET_ADMIN); where the
kernel refuses, :meth:`SockMap.open` returns None and the proxy relays in user space.

The program is eleven instructions, assembled here (no compiler needed):
key = {remote_ip4, local_ip4, remote_port, local_port} of the arriving segment's socket;
return bpf_sk_redirect_hash(skb, map, &key, 0)  — the map holds, under each socket's key, its
peer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import struct

import structlog

log = structlog.get_logger(__name__)

_SYS_BPF = 321  # x86_64
_BPF_MAP_CREATE, _BPF_MAP_UPDATE_ELEM, _BPF_MAP_DELETE_ELEM = 0, 2, 3
_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_BPF_MAP_TYPE_SOCKHASH = 18
_BPF_PROG_TYPE_SK_SKB = 14
_BPF_SK_SKB_STREAM_VERDICT = 5
_HELPER_SK_REDIRECT_HASH = 72
_KEY_SIZE = 16
_MAX_ENTRIES = 65536

# struct __sk_buff offsets readable by sk_skb programs
_REMOTE_IP4, _LOCAL_IP4, _REMOTE_PORT, _LOCAL_PORT = 92, 96, 132, 136

_TCP_INFO = 11
_TCPI_BYTES_ACKED, _TCPI_BYTES_RECEIVED = 120, 128

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _program(map_fd: int) -> bytes:
    ldxw, stxw, mov64_reg, mov64_imm, add64_imm = 0x61, 0x63, 0xBF, 0xB7, 0x07
    insns = [_insn(mov64_reg, dst=6, src=1)]  # r6 = skb
    for slot, field in enumerate((_REMOTE_IP4, _LOCAL_IP4, _REMOTE_PORT, _LOCAL_PORT)):
        insns.append(_insn(ldxw, dst=2, src=6, off=field))  # r2 = skb->field
        insns.append(_insn(stxw, dst=10, src=2, off=-16 + 4 * slot))  # key[slot] = r2
    insns += [
        _insn(mov64_reg, dst=1, src=6),  # r1 = skb
        _insn(0x18, dst=2, src=1, imm=map_fd),  # r2 = map (ld_imm64, pseudo map fd)
        _insn(0),
        _insn(mov64_reg, dst=3, src=10),
        _insn(add64_imm, dst=3, imm=-16),  # r3 = &key
        _insn(mov64_imm, dst=4, imm=0),  # r4 = flags: to the peer's egress
        _insn(0x85, imm=_HELPER_SK_REDIRECT_HASH),
        _insn(0x95),  # exit
    ]
    return b"".join(insns)


def _bpf(command: int, attr: bytes) -> int:
    buffer = ctypes.create_string_buffer(attr, 128)
    result = _libc.syscall(_SYS_BPF, command, buffer, 128)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return int(result)


def socket_key(sock: socket.socket) -> bytes:
    """The key the program computes for segments arriving on ``sock`` (IPv4 only)."""
    local_ip, local_port = sock.getsockname()[:2]
    remote_ip, remote_port = sock.getpeername()[:2]
    return (
        socket.inet_aton(remote_ip)
        + socket.inet_aton(local_ip)
        + b"\0\0"  # the kernel gives remote_port in network order, shifted left by 16
        + struct.pack(">H", remote_port)
        + struct.pack("<I", local_port)
    )


def tcp_byte_counts(sock: socket.socket) -> tuple[int, int]:
    """(bytes received, bytes sent and acknowledged) over the socket's life."""
    info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 136)
    acked, received = struct.unpack_from("<QQ", info, _TCPI_BYTES_ACKED)
    return received, acked


class KernelCounter:
    """Bytes of a session the kernel relays, read from its client socket's TCP_INFO."""

    def __init__(self, endpoint_id: str, sock: socket.socket):
        self.endpoint_id = endpoint_id
        self._sock = sock
        self._received, self._sent = tcp_byte_counts(sock)

    def sample(self) -> tuple[int, int]:
        """(bytes in, bytes out) since the last sample."""
        try:
            received, sent = tcp_byte_counts(self._sock)
        except OSError:
            return 0, 0
        delta = (received - self._received, sent - self._sent)
        self._received, self._sent = received, sent
        return delta


class SockMap:
    def __init__(self, map_fd: int, prog_fd: int):
        self._map_fd = map_fd
        self._prog_fd = prog_fd

    @classmethod
    def open(cls) -> SockMap | None:
        map_fd = prog_fd = -1
        try:
            map_fd = _bpf(
                _BPF_MAP_CREATE,
                struct.pack("<IIIII", _BPF_MAP_TYPE_SOCKHASH, _KEY_SIZE, 8, _MAX_ENTRIES, 0),
            )
            code = _program(map_fd)
            program = ctypes.create_string_buffer(code, len(code))
            license_ = ctypes.create_string_buffer(b"GPL")
            log_buffer = ctypes.create_string_buffer(4096)
            attr = struct.pack(
                "<IIQQIIQ",
                _BPF_PROG_TYPE_SK_SKB,
                len(code) // 8,
                ctypes.addressof(program),
                ctypes.addressof(license_),
                1,
                len(log_buffer),
                ctypes.addressof(log_buffer),
            )
            try:
                prog_fd = _bpf(_BPF_PROG_LOAD, attr)
            except OSError as exc:
                detail = f"{exc.strerror}: {log_buffer.value.decode()[-300:]}"
                raise OSError(exc.errno, detail) from exc
            _bpf(
                _BPF_PROG_ATTACH,
                struct.pack("<IIII", map_fd, prog_fd, _BPF_SK_SKB_STREAM_VERDICT, 0),
            )
        except OSError as exc:
            for fd in (prog_fd, map_fd):
                if fd >= 0:
                    os.close(fd)
            log.info("proxy.sockmap_unavailable", error=str(exc))
            return None
        return cls(map_fd, prog_fd)

    def join(self, a: socket.socket, b: socket.socket) -> bool:
        """From now on the kernel moves every byte arriving on one socket to the other."""
        try:
            key_a, key_b = socket_key(a), socket_key(b)
            for key, peer in ((key_a, b), (key_b, a)):
                key_buffer = ctypes.create_string_buffer(key, _KEY_SIZE)
                value = ctypes.c_uint64(peer.fileno())
                _bpf(
                    _BPF_MAP_UPDATE_ELEM,
                    struct.pack(
                        "<IxxxxQQQ",
                        self._map_fd,
                        ctypes.addressof(key_buffer),
                        ctypes.addressof(value),
                        0,
                    ),
                )
        except OSError as exc:
            log.info("proxy.sockmap_join_failed", error=str(exc))
            return False
        return True

    def close(self) -> None:
        os.close(self._prog_fd)
        os.close(self._map_fd)
