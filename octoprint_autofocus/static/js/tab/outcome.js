/*
 * OctoPrint-Autofocus tab: a finished run in plain words. The result box (verdict, what
 * happened, the facts, what to try next, a device's own details) is worded in the page's
 * language from the record's fields: `reason` (focus/result.py REASONS), Z values, the
 * edge where the search stopped. The record's own message is English and stays for the
 * log and the download. The ways forward come from recovery.js.
 */
(function (tab) {
    var format = tab.format;
    var formatMm = format.formatMm;
    // failures the device or the job reports: their record message names what failed
    var DEVICE_REASONS = ["camera_error", "camera_stalled", "stage_error"];

    function capitalised(text) {
        text = String(text || "").trim();
        return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
    }

    // Texts built once the page's translations are installed (after OctoPrint's main.js ran).
    function outcomeTexts() {
        return {
            // What to try next, for every REASONS key of focus/result.py.
            advice: {
                no_peak: gettext(
                    "Check that the camera sees a textured, well-lit surface, then search a wider range."
                ),
                peak_at_edge: gettext(
                    "Jog Z closer to focus by hand, or search a wider range."
                ),
                peak_at_limit: gettext(
                    "Check the lowest and highest Z in the settings, or move the camera or the part so that focus lies within them."
                ),
                low_texture: gettext(
                    "Drag a region over printed text, a part edge or another detailed area, or add light."
                ),
                poor_fit: gettext(
                    "Increase the frames per position or the settle time, and make sure the light does not flicker."
                ),
                verify_failed: gettext(
                    "Increase the settle time or the backlash overscan."
                ),
                camera_dark: gettext(
                    "Check the light and that nothing covers the lens, then try again."
                ),
                camera_error: gettext(
                    "Check the camera choice and its URLs in the settings."
                ),
                camera_stalled: gettext(
                    "Check the camera's connection, or raise the camera timeout in the settings."
                ),
                stage_error: gettext(
                    "Check that the printer is connected and idle, the Z limits and the move G-code in the settings."
                ),
                needs_confirmation: gettext(
                    "If the machine really is that far off (after a crash or a nozzle change), home anyway; otherwise check the reference Z."
                ),
                cancelled: "",
                // a run that grew its overscan (record.overscan_grown, mm) to take up backlash
                backlash: gettext(
                    "Z has more backlash than the backlash overscan (%(set)s), so this run used %(used)s. Set the backlash overscan to at least %(used)s in the settings."
                )
            },
            // What happened, in plain words (numbers from the record fill the placeholders).
            reasons: {
                no_peak: gettext("No clear sharpest position was found between Z %(lo)s and Z %(hi)s."),
                peak_at_edge: gettext("The sharpest picture was at the end of the searched range, at Z %(z)s."),
                edge_limit_below: gettext("The picture was still getting sharper at the lower Z limit (%(edge)s), so focus probably lies below it, outside the allowed range. The sharpest picture was at Z %(z)s."),
                edge_limit_above: gettext("The picture was still getting sharper at the upper Z limit (%(edge)s), so focus probably lies above it, outside the allowed range. The sharpest picture was at Z %(z)s."),
                edge_budget_below: gettext("The picture was still getting sharper at Z %(edge)s, as far below the starting range as the search may go, so focus probably lies further below. The sharpest picture was at Z %(z)s."),
                edge_budget_above: gettext("The picture was still getting sharper at Z %(edge)s, as far above the starting range as the search may go, so focus probably lies further above. The sharpest picture was at Z %(z)s."),
                low_texture: gettext("The region has too little detail to judge focus."),
                poor_fit: gettext("The sharpness near the best position was too irregular to trust (best picture at Z %(z)s)."),
                verify_failed: gettext("On a second look the picture at Z %(z)s was not as sharp as during the search."),
                camera_dark: gettext("The camera's picture was dark, so focus could not be judged."),
                camera_error: gettext("The camera did not deliver a picture."),
                camera_stalled: gettext("The camera stopped sending new pictures."),
                stage_error: gettext("Z did not move or did not confirm the move."),
                needs_confirmation: gettext("Z was not changed: homing would shift it by %(correction)s, more than the %(limit)s allowed without asking."),
                cancelled: gettext("The run was cancelled.")
            }
        };
    }

    tab.outcome = {
        init: function (self) {
            var texts = outcomeTexts();

            self.result = ko.pureComputed(function () {
                var record = self._plottedRecord();
                if (!record || self.running()) return null;
                var reason = record.reason || "";
                var cancelled = reason === "cancelled";
                return _.extend({
                    ok: !!record.ok,
                    cancelled: cancelled,
                    title: record.ok
                        ? gettext("In focus")
                        : cancelled
                          ? gettext("Cancelled")
                          : reason === "needs_confirmation"
                            ? gettext("Not homed")
                            : gettext("Not focused"),
                    kind: format.kindName(record.kind),
                    zLabel: record.ok ? gettext("Focused Z") : gettext("Z now"),
                    z: formatMm(record.ok ? record.z : record.final_z),
                    referenceChange: self._referenceChange(record),
                    showCorrection: record.kind === "home" && format.finite(record.correction),
                    correction: formatMm(record.correction),
                    frames: record.frames,
                    elapsed: Number(record.elapsed || 0).toFixed(1) + " s",
                    explanation: self._explanation(record),
                    detail: self._detail(record),
                    advice: self._advice(record),
                    downloadUrl: record.run_id
                        ? OctoPrint.plugins.autofocus.recordUrl(record.run_id)
                        : null,
                    downloadName: "autofocus-" + record.run_id + ".json"
                }, self._waysForward(record));
            });

            // What happened, in plain words of the page's language, from the record's fields.
            self._explanation = function (record) {
                var reason = record.reason || "";
                var values = {z: formatMm(record.z), lo: formatMm(record.z_min), hi: formatMm(record.z_max),
                              edge: formatMm(record.edge_z), correction: format.signedMm(record.proposed_correction),
                              limit: formatMm((record.settings || {}).max_correction)};
                if (record.ok) return self._extensionText(record);
                if (reason === "cancelled") return capitalised(record.message) || texts.reasons.cancelled;
                var key = reason;
                if (reason === "peak_at_edge" && format.finite(record.edge_z) && (record.edge_kind === "limit" || record.edge_kind === "budget")) {
                    key = "edge_" + record.edge_kind + (self._edgeBelow(record) ? "_below" : "_above");
                }
                var text = texts.reasons[key];
                return text ? _.sprintf(text, values) : capitalised(record.message);
            };

            // A device's or the job's own words about what failed ("could not connect to ..."), if any.
            self._detail = function (record) {
                if (record.ok || DEVICE_REASONS.indexOf(record.reason) < 0 || !record.message) return "";
                return _.sprintf(gettext("Details: %(message)s"), {message: record.message});
            };

            self._advice = function (record) {
                var backlash = self._backlashAdvice(record);
                if (record.ok) return backlash;
                var advice = record.reason === "peak_at_edge" && record.edge_kind === "limit"
                    ? texts.advice.peak_at_limit
                    : texts.advice[record.reason] || "";
                return _.compact([advice, backlash]).join(" ");
            };

            // For a run that grew its overscan to take up backlash: what to set.
            self._backlashAdvice = function (record) {
                if (!format.finite(record.overscan_grown) || record.reason === "cancelled") return "";
                return _.sprintf(texts.advice.backlash, {set: formatMm((record.options || {}).overscan),
                                                         used: formatMm(record.overscan_grown)});
            };

            self._edgeBelow = function (record) {
                return format.finite(record.z_min) && Math.abs(record.edge_z - record.z_min) <= Math.abs(record.edge_z - record.z_max);
            };

            // For a passed run that left its window: how far it went.
            self._extensionText = function (record) {
                var extended = record.extended || [0, 0];
                if (extended[0] > 0) {
                    return _.sprintf(gettext("The search went %(d)s below its starting range."), {d: formatMm(extended[0])});
                }
                if (extended[1] > 0) {
                    return _.sprintf(gettext("The search went %(d)s above its starting range."), {d: formatMm(extended[1])});
                }
                return "";
            };
        }
    };
})(window.OctoPrintAutofocusTab);
