"""OctoPrint-Autofocus: focus a camera on the printer head by moving Z to the sharpest image."""

import octoprint.plugin


class AutofocusPlugin(octoprint.plugin.OctoPrintPlugin):
    """The plugin; OctoPrint glue only (the focus logic lives in :mod:`.focus`)."""


__plugin_name__ = "Autofocus"
__plugin_version__ = "0.1.0"
__plugin_description__ = "Autofocus a camera on your printer or CNC by moving Z until the image is sharpest."
__plugin_author__ = "OctoPrint-Autofocus developers"
__plugin_license__ = "AGPLv3"
__plugin_pythoncompat__ = ">=3.9,<4"
__plugin_implementation__ = AutofocusPlugin()
