"""The files behind qwen's ``data[].url`` answers, served by the emulator itself."""

from __future__ import annotations

import collections
import hashlib
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class StoredFile:
    data: bytes
    fault: str | None = None
    """A download fault (``oversize``, ``not-image``) that replaces this file when fetched."""
    fault_param: str | None = None


class FileStore:
    """The newest ``capacity`` files by id; older ones are dropped (a long-running emulator
    must not grow without bound, and real result URLs expire too)."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._files: collections.OrderedDict[str, StoredFile] = collections.OrderedDict()
        self._lock = threading.Lock()

    def put(self, data: bytes, fault: str | None = None, fault_param: str | None = None) -> str:
        """Store ``data``; the id is its content hash, so the same edit gives the same URL."""
        key = hashlib.sha256(data + (fault or "").encode() + (fault_param or "").encode())
        file_id = key.hexdigest()[:32]
        with self._lock:
            self._files[file_id] = StoredFile(data, fault, fault_param)
            self._files.move_to_end(file_id)
            while len(self._files) > self.capacity:
                self._files.popitem(last=False)
        return file_id

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)
