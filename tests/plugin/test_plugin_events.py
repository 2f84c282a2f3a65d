"""AutofocusPlugin.on_event: which OctoPrint events and printer states stop a running focus.

A real FocusJob runs a search that waits for its cancel event; the plugin gets the event
as OctoPrint would deliver it. The record's message tells which reason stopped the run
(the first cancel's reason sticks), so a run that an event did not stop ends with the
test's own reason. The expected events are written out here, not read from the plugin.
"""

import threading

import pytest
from octoprint.events import Events

from octoprint_autofocus.job import RunPlan
from octoprint_autofocus.plugin import AutofocusPlugin

from .test_job import Rig, waits_for_cancel

TEST_OVER = "the test is over"


class RunningPlugin:
    """A plugin whose job is running a focus (in a printing job or not) until cancelled."""

    def __init__(self, tmp_path, in_job):
        started = threading.Event()
        self.rig = Rig(tmp_path, waits_for_cancel(started))
        self.rig.printer.printing = in_job
        self.plugin = AutofocusPlugin()
        self.plugin._job = self.rig.job
        self.run_id = self.rig.job.start(RunPlan(kind="focus", config=self.rig.config, in_job=in_job))
        assert started.wait(5)

    def ended_with(self):
        """Stop the run if it is still going; return (was it still going, the record's message)."""
        going = self.rig.job.running
        self.rig.job.cancel(TEST_OVER)
        assert self.rig.job.wait(5)
        record = self.rig.records.load(self.run_id)
        assert record["reason"] == "cancelled"
        return going, record["message"]

    def close(self):
        self.rig.close()
        self.plugin._microscope.close()


@pytest.fixture
def running(tmp_path):
    made = []

    def start(in_job=False):
        made.append(RunningPlugin(tmp_path, in_job))
        return made[-1]

    yield start
    for item in made:
        item.close()


STOPPING = [
    (Events.ERROR, {"error": "Thermal runaway"}, "the printer reported an error"),
    (Events.DISCONNECTED, {}, "the printer disconnected"),
    (Events.PRINT_CANCELLING, {"name": "job.gcode"}, "the print is being cancelled"),
    (Events.PRINT_PAUSED, {"name": "job.gcode"}, "the print was paused"),
    (Events.PRINTER_STATE_CHANGED, {"state_id": "PAUSING", "state_string": "Pausing"}, "the print is being paused"),
    (Events.PRINTER_STATE_CHANGED, {"state_id": "CANCELLING", "state_string": "Cancelling"},
     "the print is being cancelled"),
]


@pytest.mark.parametrize("in_job", [False, True], ids=["outside-job", "in-job"])
@pytest.mark.parametrize("event, payload, reason", STOPPING, ids=lambda v: v if isinstance(v, str) else None)
def test_abort_events_and_states_stop_the_run_with_their_reason(running, event, payload, reason, in_job):
    run = running(in_job)
    run.plugin.on_event(event, payload)
    assert run.rig.job.wait(5), "the run did not stop"
    assert run.ended_with() == (False, reason)


@pytest.mark.parametrize("event, reason", [
    (Events.PRINT_STARTED, "a print started"),
    (Events.PRINT_RESUMED, "the print was resumed"),
])
def test_a_print_starting_or_resuming_stops_a_run_outside_a_job_only(running, event, reason):
    outside, inside = running(in_job=False), running(in_job=True)
    for run in (outside, inside):
        run.plugin.on_event(event, {"name": "job.gcode"})
    assert outside.rig.job.wait(5)
    assert outside.ended_with() == (False, reason)
    assert inside.ended_with() == (True, TEST_OVER)


@pytest.mark.parametrize("event, payload", [
    (Events.PRINTER_STATE_CHANGED, {"state_id": "PRINTING", "state_string": "Printing"}),
    (Events.PRINTER_STATE_CHANGED, {"state_id": "OPERATIONAL", "state_string": "Operational"}),
    (Events.CONNECTED, {"port": "VIRTUAL", "baudrate": 0}),
    (Events.CLIENT_OPENED, {"remoteAddress": "127.0.0.1"}),
    (Events.PRINT_DONE, {"name": "job.gcode"}),
    (Events.CONNECTING, {"state_id": "PAUSING"}),  # a state id outside PrinterStateChanged means nothing
    (Events.PRINTER_STATE_CHANGED, None),
])
def test_other_events_leave_the_run_going(running, event, payload):
    run = running()
    run.plugin.on_event(event, payload)
    assert run.ended_with() == (True, TEST_OVER)
