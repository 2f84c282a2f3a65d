"""RecordStore: the newest N records as JSON files."""

import pytest

from octoprint_autofocus.records import RecordStore, new_run_id


def record(n):
    return {"run_id": new_run_id(1_700_000_000 + n), "kind": "focus", "ok": True, "z": float(n)}


def test_saved_record_loads_back(tmp_path):
    store = RecordStore(str(tmp_path))
    saved = record(1)
    store.save(saved)
    assert store.load(saved["run_id"]) == saved


def test_only_the_newest_records_are_kept(tmp_path):
    store = RecordStore(str(tmp_path), keep=3)
    saved = [record(n) for n in range(5)]
    for item in saved:
        store.save(item)
    assert [entry["run_id"] for entry in store.history()] == [item["run_id"] for item in saved[:1:-1]]
    assert store.last()["z"] == 4.0


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "", "20261125-174500123-zzzzzz"])
def test_malformed_run_id_loads_nothing(tmp_path, run_id):
    assert RecordStore(str(tmp_path)).load(run_id) is None


def test_empty_store_has_no_last_record(tmp_path):
    store = RecordStore(str(tmp_path))
    assert store.last() is None and store.history() == []


def test_ids_made_in_the_same_millisecond_still_sort_in_the_order_they_were_made():
    ids = [new_run_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50


def test_a_map_summary_carries_its_grid_and_a_focus_summary_none(tmp_path):
    store = RecordStore(str(tmp_path))
    plan = {"rows": 5, "cols": 4, "rectangle": [10.0, 190.0, 10.0, 190.0]}
    store.save({**record(1), "kind": "map", "z": None, "map": plan, "points": [{"x": 1.0}] * 20})
    store.save(record(2))
    focus, mapped = store.history()
    assert mapped["map"] == plan and "points" not in mapped
    assert focus["map"] is None
