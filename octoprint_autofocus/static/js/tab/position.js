/*
 * OctoPrint-Autofocus tab: the current Z readout (from the printer's position answers, the
 * server's `position` messages; "unknown" until it reports) and the last focused Z with
 * the distance from it.
 */
(function (tab) {
    var format = tab.format;
    var AT_FOCUS_MM = 0.0005;
    var FOCUS_KINDS = ["focus", "reference", "home"];

    tab.position = {
        init: function (self) {
            self.zKnown = ko.pureComputed(function () {
                return self.position().state !== "unknown" && format.finite(self.position().z);
            });

            self.currentZText = ko.pureComputed(function () {
                return self.zKnown() ? format.formatMm(self.position().z) : gettext("unknown");
            });

            self.zNote = ko.pureComputed(function () {
                var position = self.position();
                if (position.state === "moving") return gettext("(moving)");
                if (!self.zKnown()) {
                    return self.printerState.isOperational()
                        ? gettext("(the printer has not reported its position yet)")
                        : gettext("(the printer is not connected)");
                }
                return "";
            });

            // The newest focused Z, in today's coordinates (homing by focus renamed it to the reference).
            self.lastFocus = ko.pureComputed(function () {
                var entry = _.find(self.history(), function (item) {
                    return item.ok && FOCUS_KINDS.indexOf(item.kind) >= 0 && format.finite(item.z);
                });
                if (!entry) return null;
                var z = entry.kind === "home" && format.finite(entry.correction) ? entry.z + entry.correction : entry.z;
                return {z: z, started: entry.started};
            });

            self.focusDistanceText = ko.pureComputed(function () {
                var focus = self.lastFocus();
                if (!focus) return gettext("No focus found yet.");
                var text = _.sprintf(gettext("Last focus: %(z)s"), {z: format.formatMm(focus.z)});
                if (!self.zKnown()) return text;
                var distance = self.position().z - focus.z;
                if (Math.abs(distance) < AT_FOCUS_MM) return text + " " + gettext("(you are there)");
                return (
                    text + " " +
                    _.sprintf(distance > 0 ? gettext("(%(d)s above it)") : gettext("(%(d)s below it)"), {
                        d: format.formatMm(Math.abs(distance))
                    })
                );
            });
        }
    };
})(window.OctoPrintAutofocusTab);
