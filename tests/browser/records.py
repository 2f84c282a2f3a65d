"""Run records for the tab to show: what the engine writes, for cases the rig cannot make on cue."""

import math

FOCUS = 4.012
FWHM = 0.2


def _gaussian(z: float, height: float = 1000.0) -> float:
    return height * math.exp(-math.log(2) * ((z - FOCUS) / (FWHM / 2)) ** 2)


def peak_record(**extra) -> dict:
    """A passed run that started at 5.2, searched its window 4.2-6.2 and then 1.2 mm below it."""
    zs = [6.2, 5.7, 5.2, 4.7, 4.2, 3.7, 3.2, 3.0, 4.1, 3.95, 4.05, 4.012]
    record = {
        "run_id": "20260101-120000000-abcdef", "kind": "focus", "ok": True, "reason": "",
        "message": "In focus at Z 4.012 mm.", "detail": "", "z": FOCUS, "start_z": 5.2, "final_z": FOCUS,
        "samples": [[z, _gaussian(z) + 5.0] for z in zs],
        "fit": {"model": "gaussian", "z_peak": FOCUS, "r2": 0.99, "z_lo": 3.9, "z_hi": 4.1,
                "params": {"c2": -math.log(2) / (FWHM / 2) ** 2, "c1": 0.0, "c0": math.log(1005.0),
                           "centre": FOCUS, "fwhm": FWHM}},
        "window": [4.2, 6.2], "limits": [0.0, 100.0], "extended": [1.2, 0.0], "z_min": 3.0, "z_max": 6.2,
        "edge_z": None, "edge_kind": None, "frames": 11, "elapsed": 3.2, "started": 1767268800,
        "settings": {"reference_z": None},
    }
    record.update(extra)
    return record


def flat_record(**extra) -> dict:
    """A failed run whose scores are noise around one level: no peak anywhere."""
    zs = [3.0 + 0.25 * i for i in range(9)]
    noise = [1.3, -0.8, 2.0, -1.6, 0.4, 1.9, -2.0, 0.7, -0.3]
    record = peak_record(ok=False, reason="no_peak", message="The sharpness had no clear peak.",
                         samples=[[z, 100.0 + n] for z, n in zip(zs, noise)], fit=None, z=4.0,
                         final_z=5.2, window=[3.0, 5.0], extended=[0.0, 0.0], z_min=3.0, z_max=5.0)
    record.update(extra)
    return record


def map_record(**extra) -> dict:
    """A passed 3x3 map of a surface tilted 0.1 / 0.05 mm per 100 mm along X / Y, one point
    failed (as the map section receives it: points without samples)."""
    xs, ys = [10.0, 100.0, 190.0], [10.0, 100.0, 190.0]
    points = []
    for row, y in enumerate(ys):
        for k in range(3):
            col = k if row % 2 == 0 else 2 - k
            x = xs[col]
            ok = (x, y) != (100.0, 190.0)
            z = 4.0 + 0.001 * x + 0.0005 * y
            points.append({"index": len(points), "row": row, "col": col, "x": x, "y": y, "ok": ok,
                           "z": z if ok else None, "reason": "" if ok else "low_texture", "message": "",
                           "frames": 6, "confidence": 0.99 if ok else None})
    record = {
        "run_id": "20260101-120500000-fedcba", "kind": "map", "ok": True, "reason": "", "started": 1767269100,
        "message": "Measured 8 of 9 points. 1 could not be focused.", "detail": "", "z": None, "correction": None,
        "points": points, "elapsed": 31.0, "frames": 60, "rectangle": [10.0, 190.0, 10.0, 190.0],
        "summary": {"points": 9, "measured": 8, "failed": 1, "min": 4.015, "max": 4.285, "range": 0.27,
                    "mean": 4.15, "rms": 0.0, "tilt_x": 0.1, "tilt_y": 0.05, "high_corner": "back right",
                    "low_corner": "front left", "high_by": 0.27},
        "map": {"rows": 3, "cols": 3, "rectangle": [10.0, 190.0, 10.0, 190.0], "lift": 1.0, "travel_z": None,
                "xy_template": "G0 X{x:.3f} Y{y:.3f} F{feedrate}", "xy_feedrate": 3000.0, "max_failed": 0.25,
                "bed": [0.0, 200.0, 0.0, 200.0]},
    }
    record.update(extra)
    return record
