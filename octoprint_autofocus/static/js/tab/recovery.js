/*
 * OctoPrint-Autofocus tab: the ways forward after a failed run, offered in the result box
 * beside the explanation: move to the best Z the run found anyway, search a wider range,
 * home anyway past the correction limit. Each obeys the Z limits (the record's, else
 * today's settings); the buttons are enabled only when a run may start (canStart).
 */
(function (tab) {
    var finite = tab.format.finite;
    var formatMm = tab.format.formatMm;
    // failures whose best Z a person may still want, and those a wider search may cure
    var MOVE_REASONS = ["peak_at_edge", "poor_fit", "verify_failed"];
    var WIDER_REASONS = ["peak_at_edge", "no_peak"];

    tab.recovery = {
        init: function (self) {
            self.moveAnyway = function (result) {
                self._request(OctoPrint.plugins.autofocus.move(result.moveZ));
            };

            self.searchWider = function (result) {
                self._start({range: result.wider});
            };

            self.homeAnyway = function () {
                self._request(OctoPrint.plugins.autofocus.home(true));
            };

            // The result box's fields for the ways forward (none for a passed run).
            self._waysForward = function (record) {
                var moveZ = self._moveTarget(record);
                var wider = self._widerRange(record);
                return {
                    moveZ: moveZ,
                    moveText: moveZ === null ? "" : _.sprintf(gettext("Move to Z %(z)s anyway"), {z: Number(moveZ).toFixed(3)}),
                    moveTitle: gettext("Go to the best Z this run found, although it could not confirm it as the focus."),
                    wider: wider.range,
                    widerText: wider.range === null ? "" : gettext("Search a wider range"),
                    widerTitle: wider.range === null ? "" : _.sprintf(
                        gettext("Autofocus again, searching %(range)s mm above and below the current Z (within the Z limits)."),
                        {range: wider.range}
                    ),
                    widerNote: wider.note,
                    homeAnyway: record.reason === "needs_confirmation" && finite(record.proposed_correction),
                    homeAnywayText: _.sprintf(gettext("Home anyway (shift Z by %(correction)s)"), {
                        correction: tab.format.signedMm(record.proposed_correction)
                    })
                };
            };

            // Whether a failed run's best Z is one a person may still want (also marked in the plot).
            self._offersBestZ = function (record) {
                return MOVE_REASONS.indexOf(record.reason) >= 0;
            };

            // The best Z of a failed run a person may go to anyway, or null.
            self._moveTarget = function (record) {
                if (record.ok || !self._offersBestZ(record) || !finite(record.z)) return null;
                var limits = self._safetyLimits(record);
                return record.z >= limits[0] && record.z <= limits[1] ? record.z : null;
            };

            // {range: half-range mm of a wider search, or null; note: why none is offered}.
            self._widerRange = function (record) {
                if (record.ok || WIDER_REASONS.indexOf(record.reason) < 0) return {range: null, note: ""};
                var limits = self._safetyLimits(record);
                if (record.edge_kind === "limit" && finite(record.edge_z)) {
                    var atSafety = Math.abs(record.edge_z - limits[0]) < 1e-6 || Math.abs(record.edge_z - limits[1]) < 1e-6;
                    if (atSafety) {
                        return {
                            range: null,
                            note: _.sprintf(
                                gettext("The search reached the Z limit at %(z)s; focus may lie beyond it. Change the lowest or highest Z in the settings if the machine can safely go further."),
                                {z: formatMm(record.edge_z)}
                            )
                        };
                    }
                }
                var searched = finite(record.z_max) && finite(record.z_min) ? (record.z_max - record.z_min) / 2 : 0;
                var base = Math.max(searched, Number(self.searchRange()) || 0);
                return {range: Math.round(base * 20) / 10, note: ""};
            };

            // The Z limits a run may use: the record's (newer records) or today's settings.
            self._safetyLimits = function (record) {
                if (record.limits && finite(record.limits[0]) && finite(record.limits[1])) return record.limits;
                var lo = Number(self._pluginSetting("z_min"));
                var hi = Number(self._pluginSetting("z_max"));
                return [isFinite(lo) ? lo : -Infinity, isFinite(hi) ? hi : Infinity];
            };
        }
    };
})(window.OctoPrintAutofocusTab);
