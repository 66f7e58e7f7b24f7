"""Keeps an NVFlare server on loopback: binds to all interfaces (Python
sockets, and gRPC servers, which bind in C) are rewritten to 127.0.0.1."""

import socket

_WILD = ("", "0.0.0.0", "0", "::", "[::]")
_bind = socket.socket.bind


def _loopback_bind(self, address):
    if isinstance(address, tuple) and address and address[0] in _WILD:
        address = ("127.0.0.1",) + tuple(address[1:])
    return _bind(self, address)


socket.socket.bind = _loopback_bind


def _loopback_target(addr):
    host, sep, port = addr.rpartition(":")
    return "127.0.0.1:" + port if sep and host in _WILD else addr


try:
    from grpc import _server

    for cls in (_server._Server,):
        for name in ("add_secure_port", "add_insecure_port"):
            original = getattr(cls, name)

            def patched(self, address, *args, _original=original, **kwargs):
                return _original(self, _loopback_target(address), *args, **kwargs)

            setattr(cls, name, patched)
except ImportError:
    pass
try:
    from grpc.aio import _server as _aio_server

    for name in ("add_secure_port", "add_insecure_port"):
        original = getattr(_aio_server.Server, name)

        def patched(self, address, *args, _original=original, **kwargs):
            return _original(self, _loopback_target(address), *args, **kwargs)

        setattr(_aio_server.Server, name, patched)
except ImportError:
    pass
