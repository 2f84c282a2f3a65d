/*
 * OctoPrint-Autofocus tab: the focus reference and homing Z by focus. Setting a reference
 * when one exists focuses first and asks before replacing it (old -> new); the tab shows
 * the reference and what it was before.
 */
(function (tab) {
    var formatMm = tab.format.formatMm;

    tab.reference = {
        init: function (self) {
            self.previousReferenceZ = ko.observable(null);
            // {runId, old}: the run whose focused Z may replace the reference, once confirmed
            self._pendingReference = null;

            self.canHome = ko.pureComputed(function () {
                return self.canStart() && self.referenceZ() !== null;
            });

            self.referenceTitle = ko.pureComputed(function () {
                var text = gettext(
                    "Focus on the reference surface now and remember the focused Z as the reference for homing by focus. Home Z the normal way first."
                );
                if (self.referenceZ() !== null) {
                    text += " " + _.sprintf(
                        gettext("The current reference (%(z)s) is replaced only after you confirm the new one."),
                        {z: formatMm(self.referenceZ())}
                    );
                }
                return text;
            });

            self.homeTitle = ko.pureComputed(function () {
                if (self.referenceZ() === null) {
                    return gettext(
                        "Needs a focus reference: use Set focus reference once, or enter a reference Z in the settings."
                    );
                }
                return _.sprintf(
                    gettext(
                        "Focus, and if the run passes, declare the focused height to be Z=%(z)s (G92). A failed run changes nothing."
                    ),
                    {z: Number(self.referenceZ()).toFixed(3)}
                );
            });

            self.referenceText = ko.pureComputed(function () {
                var now = self.referenceZ() === null ? gettext("not set") : formatMm(self.referenceZ());
                var before = self.previousReferenceZ();
                return before === null ? now : _.sprintf(gettext("%(now)s (was %(before)s)"), {
                    now: now,
                    before: formatMm(before)
                });
            });

            // Without a reference: focus and store it. With one: focus first, then ask old -> new.
            self.setReference = function () {
                if (self.referenceZ() === null) {
                    self._request(OctoPrint.plugins.autofocus.setReference());
                    return;
                }
                self._start({}).done(function (reply) {
                    self._pendingReference = {runId: reply.run_id, old: self.referenceZ()};
                });
            };

            self.homeByFocus = function () {
                self._request(OctoPrint.plugins.autofocus.home());
            };

            // A finished run: if it was the pending reference run and it passed, ask.
            self._confirmPendingReference = function (record) {
                var pending = self._pendingReference;
                if (pending && pending.runId === record.run_id) {
                    self._pendingReference = null;
                    if (record.ok) self._confirmReference(pending.old, record.z);
                }
            };

            self._confirmReference = function (old, z) {
                var change = z - old;
                showConfirmationDialog({
                    title: gettext("Replace the focus reference?"),
                    message: _.sprintf(
                        gettext("The reference Z is %(old)s. This run focused at %(new)s, %(change)s %(direction)s. Homing by focus will set Z to the new value."),
                        {
                            old: formatMm(old),
                            "new": formatMm(z),
                            change: formatMm(Math.abs(change)),
                            direction: change >= 0 ? gettext("higher") : gettext("lower")
                        }
                    ),
                    question: gettext("Replace the reference?"),
                    proceed: gettext("Replace"),
                    proceedClass: "primary",
                    onproceed: function () {
                        self._request(OctoPrint.plugins.autofocus.setReference(Number(z.toFixed(3)))).done(function (reply) {
                            self.previousReferenceZ(old);
                            self.referenceZ(reply.reference_z);
                        });
                    }
                });
            };

            // The result box's "Reference Z" line of a passed reference run: old -> new.
            self._referenceChange = function (record) {
                if (record.kind !== "reference" || !record.ok) return "";
                var old = record.settings ? record.settings.reference_z : null;
                return tab.format.finite(old)
                    ? _.sprintf(gettext("%(old)s \u2192 %(new)s"), {old: formatMm(old), "new": formatMm(record.z)})
                    : formatMm(record.z);
            };
        }
    };
})(window.OctoPrintAutofocusTab);
