"""RecordStore: the last N run records, one JSON file each, in the plugin's data folder."""

import json
import os
import re
import secrets
import threading
import time
from typing import Any, Collection, Dict, List, Optional

__all__ = ["RecordStore", "new_run_id", "summary"]

RUN_ID = re.compile(r"^\d{8}-\d{9}-[0-9a-f]{6}$")
"""A run id: UTC date and time (to the millisecond) of the start plus six random hex digits."""

SUMMARY_KEYS = ("run_id", "kind", "started", "ok", "z", "reason", "message", "correction", "frames", "elapsed",
                "map")
"""``map``: a focus map's plan (rows, cols, rectangle...; None for focus runs), so the list can name it."""


_last_ms = [0]
_ids_lock = threading.Lock()


def new_run_id(now: Optional[float] = None) -> str:
    """A fresh run id that sorts by start time and is safe as a file name. Ids made by this
    process from the clock always increase (two runs in one millisecond get consecutive
    milliseconds), so the newest record is the last one in sorted order."""
    if now is None:
        with _ids_lock:
            ms = max(int(time.time() * 1000), _last_ms[0] + 1)
            _last_ms[0] = ms
    else:
        ms = int(now * 1000)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(ms / 1000))
    return "%s%03d-%s" % (stamp, ms % 1000, secrets.token_hex(3))


def summary(record: Dict[str, Any]) -> Dict[str, Any]:
    """The few fields of a record that a history list shows."""
    return {key: record.get(key) for key in SUMMARY_KEYS}


class RecordStore:
    """Keeps records as ``<run_id>.json`` in ``folder``, pruning all but the newest ``keep``."""

    def __init__(self, folder: str, keep: int = 20) -> None:
        self.folder = folder
        self.keep = keep
        self._lock = threading.Lock()
        os.makedirs(folder, exist_ok=True)

    def save(self, record: Dict[str, Any]) -> str:
        """Write ``record`` (it must carry a valid ``run_id``), prune, return the path."""
        path = self._path(record["run_id"])
        with self._lock:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=1)
            os.replace(tmp, path)
            for old in self._ids()[: -self.keep]:
                os.remove(self._path(old))
        return path

    def load(self, run_id: str) -> Optional[Dict[str, Any]]:
        """The record with ``run_id``, or None if there is none (or the id is malformed)."""
        if not RUN_ID.match(run_id or ""):
            return None
        try:
            with open(self._path(run_id), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def last(self, kinds: Optional[Collection[str]] = None) -> Optional[Dict[str, Any]]:
        """The newest record (of one of ``kinds``, when given), or None."""
        for run_id in reversed(self._ids()):
            record = self.load(run_id)
            if record is not None and (kinds is None or record.get("kind") in kinds):
                return record
        return None

    def history(self) -> List[Dict[str, Any]]:
        """Summaries of the kept records, newest first."""
        records = (self.load(run_id) for run_id in reversed(self._ids()))
        return [summary(record) for record in records if record is not None]

    def _ids(self) -> List[str]:
        names = (name[: -len(".json")] for name in os.listdir(self.folder) if name.endswith(".json"))
        return sorted(name for name in names if RUN_ID.match(name))

    def _path(self, run_id: str) -> str:
        if not RUN_ID.match(run_id):
            raise ValueError("malformed run id %r" % run_id)
        return os.path.join(self.folder, run_id + ".json")
