"""A map's record, its CSV export and the finished event."""

import csv
import io

import pytest

from octoprint_autofocus.focus.focus_map import MapPoint, MapResult
from octoprint_autofocus.focus.surface import summarize
from octoprint_autofocus.map_record import CSV_COLUMNS, finished_event, map_csv, map_record, without_samples


def a_record():
    points = [MapPoint(0, 0, 0, 0.0, 0.0, ok=True, z=4.0, frames=9, confidence=0.99, samples=[[4.0, 1.0]]),
              MapPoint(1, 0, 1, 100.0, 0.0, ok=True, z=4.1, frames=6, confidence=0.98, samples=[[4.1, 1.0]]),
              MapPoint(2, 1, 1, 100.0, 100.0, ok=False, reason="no_peak", message="nothing sharp", frames=5),
              MapPoint(3, 1, 0, 0.0, 100.0, ok=True, z=4.2, frames=6, confidence=0.97)]
    measured = [p for p in points if p.ok]
    mean = sum(p.z for p in measured) / 3
    for p in measured:
        p.height = p.z - mean
    summary = summarize([p.x for p in measured], [p.y for p in measured], [p.z for p in measured], (0, 100, 0, 100))
    summary.update(points=4, failed=1)
    result = MapResult(ok=True, reason="", message="measured 3 of 4 points; 1 failed", points=points,
                       summary=summary, rectangle=[0, 100, 0, 100], frames=26, elapsed=12.5, fwhm=0.18)
    return map_record(result, run_id="20260101-000000000-abcdef", started=1.0e9, plan={"rows": 2, "cols": 2},
                      settings={"z_min": 0.0})


def test_the_record_is_the_result_with_its_identity():
    record = a_record()
    assert (record["kind"], record["run_id"], record["z"], record["correction"]) == (
        "map", "20260101-000000000-abcdef", None, None)
    assert record["map"] == {"rows": 2, "cols": 2} and record["frames"] == 26
    assert record["points"][2]["reason"] == "no_peak"


def test_csv_has_one_row_per_point_with_heights_and_the_deviation_from_the_plane():
    rows = list(csv.DictReader(io.StringIO(map_csv(a_record()))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["index"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[1]["z_mm"] == "4.1000" and rows[1]["height_mm"] == "0.0000"
    assert rows[0]["height_mm"] == "-0.1000"
    # three points define the plane exactly: no deviation
    assert float(rows[3]["from_plane_mm"]) == pytest.approx(0.0, abs=1e-4)
    failed = rows[2]
    assert (failed["ok"], failed["reason"], failed["z_mm"], failed["height_mm"], failed["from_plane_mm"]) == (
        "no", "no_peak", "", "", "")
    assert rows[0]["confidence"] == "0.990" and rows[0]["frames"] == "9"


def test_samples_stay_in_the_download_only_and_the_event_is_brief():
    record = a_record()
    light = without_samples(record)
    assert "samples" not in light["points"][0] and record["points"][0]["samples"] == [[4.0, 1.0]]
    assert without_samples(None) is None
    event = finished_event(record)
    assert event["ok"] is True and event["points"] == 4 and event["failed"] == 1 and event["measured"] == 3
    assert event["tilt_y"] == pytest.approx(0.2)
