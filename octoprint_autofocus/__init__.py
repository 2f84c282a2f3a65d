"""OctoPrint-Autofocus: focus a camera on the printer head by moving Z to the sharpest image.

This module holds only what OctoPrint reads to load the plugin. The plugin class lives in
:mod:`.plugin` and is imported by :func:`__plugin_load__`, so ``import octoprint_autofocus.focus``
works on a machine without OctoPrint (a script driving a USB camera and a serial printer).
"""

__plugin_name__ = "Autofocus"
__plugin_version__ = "0.1.0"
__plugin_description__ = "Autofocus a camera on your printer or CNC by moving Z until the image is sharpest."
__plugin_author__ = "OctoPrint-Autofocus developers"
__plugin_license__ = "AGPLv3"
__plugin_pythoncompat__ = ">=3.9,<4"


def __plugin_load__() -> None:
    """Called by OctoPrint after import: create the plugin and register its hooks."""
    global __plugin_implementation__, __plugin_hooks__, __plugin_helpers__
    from .plugin import AutofocusPlugin, plugin_hooks

    __plugin_implementation__ = AutofocusPlugin()
    __plugin_hooks__ = plugin_hooks(__plugin_implementation__)
    __plugin_helpers__ = {"autofocus": __plugin_implementation__.autofocus_helper}
