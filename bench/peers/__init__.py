"""The peers: one module each, the same small interface.

A peer is an object with a ``name`` and one method per workload id (see workloads.py), each
``method(data, output) -> bytes``: the input's bytes in, the encoded output out, everything
between (decode, operate, encode) inside the call. A workload a peer cannot do raises
NotApplicable. ``load`` imports a peer lazily, so that the environment (threads) is set first
and a missing peer is reported rather than fatal.
"""

from __future__ import annotations

import importlib
from typing import Protocol

PEERS = {
    "progimage": ("bench.peers.progimage", "ProgImage"),
    "pyvips": ("bench.peers.pyvips_peer", "pyvips"),
    "thumbor": ("bench.peers.thumbor_peer", "thumbor (PIL engine)"),
    "pillow": ("bench.peers.pillow_naive", "Pillow (naive)"),
}


class NotApplicable(Exception):
    """The peer has no equivalent of this workload for this input."""


class Peer(Protocol):
    name: str
    version: str

    def run(self, workload: str, data: bytes, output: str) -> bytes: ...


class Base:
    """Dispatch ``run`` to the method named after the workload."""

    name = ""
    version = ""

    def run(self, workload: str, data: bytes, output: str) -> bytes:
        method = getattr(self, workload, None)
        if method is None:
            raise NotApplicable(f"{self.name} has no {workload}")
        return method(data, output)


def title(key: str) -> str:
    return PEERS[key][1]


def load(key: str) -> Peer | str:
    """The peer, or the reason it cannot run here (the exact import error)."""
    module_name, _ = PEERS[key]
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an import failure is a result to report, not a crash
        return f"{type(error).__name__}: {error}"
    return module.PEER
