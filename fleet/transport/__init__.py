"""Transports move bytes to and from one host; nothing else in fleet does I/O on hosts."""

from fleet.transport.base import Transport

__all__ = ["Transport"]
