"""A single-file OctoPrint plugin for the integration tests: a serial line at a real baud rate.

OctoPrint's virtual printer answers as fast as Python runs; a real printer is behind a
serial line (115200 baud: about 87 us per byte, both ways). Copied into a test server's
``plugins/`` folder, this plugin's serial factory hook (ordered before the virtual
printer's) builds the virtual printer and wraps it so every byte written or read costs
its time on the wire. The rate is the setting ``plugins.autofocus_test_throttle.baudrate``
(default 115200; 0 turns the throttle off).
"""

import time

import octoprint.plugin

__plugin_name__ = "Autofocus test: serial throttle"
__plugin_pythoncompat__ = ">=3.7,<4"

BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit


class ThrottledSerial:
    """Wraps a serial object; ``write`` and ``readline`` take the wire time of their bytes."""

    def __init__(self, serial, baudrate):
        self._serial = serial
        self._seconds_per_byte = BITS_PER_BYTE / float(baudrate)
        self.bytes_written = 0
        self.bytes_read = 0

    def write(self, data):
        time.sleep(len(data) * self._seconds_per_byte)
        self.bytes_written += len(data)
        return self._serial.write(data)

    def readline(self, *args, **kwargs):
        line = self._serial.readline(*args, **kwargs)
        if line:
            time.sleep(len(line) * self._seconds_per_byte)
            self.bytes_read += len(line)
        return line

    def __repr__(self):
        return "ThrottledSerial(%r, %d baud)" % (self._serial, BITS_PER_BYTE / self._seconds_per_byte)

    def __getattr__(self, name):
        return getattr(self._serial, name)


class ThrottlePlugin(octoprint.plugin.SettingsPlugin):
    def get_settings_defaults(self):
        return {"baudrate": 115200}

    def serial_factory(self, comm_instance, port, baudrate, read_timeout, *args, **kwargs):
        rate = self._settings.get_int(["baudrate"])
        virtual = self._plugin_manager.get_plugin_info("virtual_printer")
        if port != "VIRTUAL" or not rate or virtual is None:
            return None
        serial = virtual.implementation.virtual_printer_factory(comm_instance, port, baudrate, read_timeout)
        return None if serial is None else ThrottledSerial(serial, rate)


__plugin_implementation__ = ThrottlePlugin()
__plugin_hooks__ = {
    "octoprint.comm.transport.serial.factory": (__plugin_implementation__.serial_factory, 1),
}
