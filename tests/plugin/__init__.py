"""Tests of the plugin modules, with fakes instead of a running OctoPrint."""
