"""focus/messages.py: a plain sentence for every way a run can end."""

import pytest

from octoprint_autofocus.focus.messages import plain_message
from octoprint_autofocus.focus.result import REASONS

FALLBACK = "The run failed."


@pytest.mark.parametrize("reason", [reason for reason in REASONS if reason])
def test_every_failure_reason_has_its_own_sentence(reason):
    text = plain_message(reason, 3.0, (1.0, 5.0), (1.0, 5.0), edge_z=5.0, edge_kind="limit")
    assert text and text != FALLBACK


def test_a_reason_nobody_knows_gets_the_fallback():
    assert plain_message("unheard_of", 3.0, (1.0, 5.0), (1.0, 5.0)) == FALLBACK


def test_a_dark_camera_is_told_plainly_with_what_to_check():
    assert plain_message("camera_dark", 3.0, (1.0, 5.0), (1.0, 5.0)) == (
        "The camera's picture was dark, so focus could not be judged. "
        "Check the light and that nothing covers the lens, then try again.")


@pytest.mark.parametrize("reason, start", [
    ("", "Focused at Z 3.000 mm. "),
    ("verify_failed", "On a second look the image at Z 3.000 mm was not as sharp as during the search. "),
])
def test_a_run_that_grew_its_overscan_says_what_it_used(reason, start):
    text = plain_message(reason, 3.0, (1.0, 5.0), (1.0, 5.0), overscan_grown=0.6000000000000001)
    assert text == start + ("Z did not always come back to the same place: its backlash is larger "
                            "than the backlash overscan, so this run used 0.600 mm.")


def test_a_cancelled_run_says_nothing_of_backlash():
    assert plain_message("cancelled", 3.0, (1.0, 5.0), (1.0, 5.0), overscan_grown=0.6) == "The run was cancelled."
