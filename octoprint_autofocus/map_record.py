"""A focus map's run record (kept in the RecordStore with ``kind: "map"``) and its CSV export."""

import csv
import io
from typing import Any, Dict, List, Optional

from .focus.focus_map import MapResult
from .focus.surface import Plane

__all__ = ["KIND", "CSV_COLUMNS", "map_record", "map_csv", "without_samples", "finished_event"]

KIND = "map"

CSV_COLUMNS = ("index", "row", "col", "x_mm", "y_mm", "z_mm", "height_mm", "from_plane_mm", "ok", "reason",
               "frames", "confidence")
"""One CSV row per point, in visiting order. ``z_mm`` is the focused Z, ``height_mm`` that
minus the mean of the measured points, ``from_plane_mm`` the deviation from the best-fit
plane; all three are empty for a failed point."""


def map_record(result: MapResult, *, run_id: str, started: float, plan: Dict[str, Any],
               settings: Dict[str, Any]) -> Dict[str, Any]:
    """The record of one map: the result (points, summary, frames, elapsed, ...) plus
    ``run_id``, ``kind`` (``"map"``), ``started`` (epoch s), ``map`` (the plan's
    parameters), ``settings`` (the run settings), and ``z``/``correction`` as None so
    the history's columns mean the same for every kind."""
    return {**result.to_dict(), "run_id": run_id, "kind": KIND, "started": started, "z": None,
            "correction": None, "map": plan, "settings": settings}


def _plane(record: Dict[str, Any]) -> Optional[Plane]:
    plane = (record.get("summary") or {}).get("plane")
    return Plane(**plane) if plane else None


def _number(value: Optional[float], digits: int = 4) -> str:
    if value is None:
        return ""
    text = "%.*f" % (digits, value)
    return text.lstrip("-") if float(text) == 0 else text  # no "-0.0000"


def map_csv(record: Dict[str, Any]) -> str:
    """The map's points as CSV (:data:`CSV_COLUMNS`, mm, a header line first)."""
    plane = _plane(record)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in record.get("points") or []:
        measured = p.get("ok") and p.get("z") is not None
        deviation = p["z"] - plane.at(p["x"], p["y"]) if measured and plane is not None else None
        writer.writerow([p["index"], p["row"], p["col"], _number(p["x"], 3), _number(p["y"], 3),
                         _number(p.get("z") if measured else None), _number(p.get("height") if measured else None),
                         _number(deviation), "yes" if measured else "no", p.get("reason") or "",
                         p.get("frames", 0), _number(p.get("confidence"), 3)])
    return out.getvalue()


def without_samples(record: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The record without each point's samples (what the tab draws; the download has all)."""
    if record is None:
        return None
    points: List[Dict[str, Any]] = [{k: v for k, v in p.items() if k != "samples"} for p in record.get("points") or []]
    return {**record, "points": points}


def finished_event(record: Dict[str, Any]) -> Dict[str, Any]:
    """The payload of ``PLUGIN_AUTOFOCUS_MAP_FINISHED``."""
    summary = record.get("summary") or {}
    return {"run_id": record["run_id"], "ok": record["ok"], "reason": record["reason"], "message": record["message"],
            **{key: summary.get(key) for key in ("points", "measured", "failed", "range", "rms", "tilt_x", "tilt_y")}}
