/*
 * OctoPrint-Autofocus: the Autofocus tab's view model (templates/autofocus_tab.jinja2).
 * The REST client is OctoPrint.plugins.autofocus (static/clientjs/autofocus.js), the plot
 * OctoPrintAutofocusPlot (static/js/autofocus_plot.js); the settings pane has its own view
 * model (static/js/autofocus_settings.js).
 */
$(function () {
    var TAB_ID = "#tab_plugin_autofocus";
    var SCORE_INTERVAL_MS = 300;
    var SCORE_RETRY_MS = 1500;
    var SNAPSHOT_INTERVAL_MS = 500;
    var SPARKLINE_LENGTH = 40;
    var MIN_ROI_FRACTION = 0.02;
    var HISTORY_SHORT = 5;
    var TOAST_MS = 6000;
    var AT_FOCUS_MM = 0.0005;
    // failures whose best Z a person may still want, and those a wider search may cure
    var MOVE_REASONS = ["peak_at_edge", "poor_fit", "verify_failed"];
    var WIDER_REASONS = ["peak_at_edge", "no_peak"];
    // failures the device or the job reports: their record message names what failed
    var DEVICE_REASONS = ["camera_error", "camera_stalled", "stage_error"];
    var FOCUS_KINDS = ["focus", "reference", "home"];

    // Texts built once the page's translations are installed (after OctoPrint's main.js ran).
    function uiTexts() {
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
                cancelled: ""
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
                camera_error: gettext("The camera did not deliver a picture."),
                camera_stalled: gettext("The camera stopped sending new pictures."),
                stage_error: gettext("Z did not move or did not confirm the move."),
                needs_confirmation: gettext("Z was not changed: homing would shift it by %(correction)s, more than the %(limit)s allowed without asking."),
                cancelled: gettext("The run was cancelled.")
            },
            kinds: {
                focus: gettext("Autofocus"),
                reference: gettext("Set reference"),
                home: gettext("Home Z"),
                map: gettext("Focus map")
            },
            phases: {
                starting: gettext("starting"),
                coarse: gettext("coarse search"),
                fine: gettext("fine search"),
                verify: gettext("verifying")
            }
        };
    }

    function finite(value) {
        return typeof value === "number" && isFinite(value);
    }

    function formatMm(value) {
        return finite(value) ? Number(value).toFixed(3) + " mm" : "-";
    }

    function signedMm(value) {
        return finite(value) ? (value > 0 ? "+" : "") + formatMm(value) : "-";
    }

    function formatScore(score) {
        if (!finite(score)) return "-";
        return score >= 1000 ? Math.round(score).toLocaleString() : score.toPrecision(4);
    }

    function capitalised(text) {
        text = String(text || "").trim();
        return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
    }

    function clamp(value, lo, hi) {
        return Math.min(hi, Math.max(lo, value));
    }

    function withCacheBuster(url) {
        return url + (url.indexOf("?") >= 0 ? "&" : "?") + "_af=" + Date.now();
    }

    // A run's start time, short enough for one line: the time today, else date and time.
    function shortDate(started) {
        var when = moment.unix(started);
        return when.isSame(moment(), "day") ? when.format("LT") : when.format("l LT");
    }

    function AutofocusViewModel(parameters) {
        var self = this;

        // ~~ dependencies
        self.loginState = parameters[0];
        self.settingsViewModel = parameters[1];
        self.printerState = parameters[2];
        self.access = parameters[3];

        self._texts = uiTexts();
        self._metricNames = {};
        // limits rendered from Python (fields.py), read in onBeforeBinding
        self._centreRoi = {x: 0, y: 0, w: 1, h: 1};
        self._jogMax = Infinity;

        // ~~ observables
        self.state = ko.observable("idle");
        self.run = ko.observable(null);
        self.samples = ko.observableArray([]);
        self.last = ko.observable(null);
        self.history = ko.observableArray([]);
        self.historyExpanded = ko.observable(false);
        self.referenceZ = ko.observable(null);
        self.previousReferenceZ = ko.observable(null);
        self.camera = ko.observable(null);
        self.position = ko.observable({z: null, state: "unknown"});
        self.roi = ko.observable(self._centreRoi);
        self.draftRoi = ko.observable(null);
        self.imageSize = ko.observable(null);
        self.imageError = ko.observable(false);
        self.liveSrc = ko.observable(null);
        self.largeOpen = ko.observable(false);
        self.scores = ko.observableArray([]);
        self.bestScore = ko.observable(null);
        self.scoreError = ko.observable(null);
        self.jogStep = ko.observable(0.1);
        self.requestError = ko.observable(null);
        self.tabActive = ko.observable(false);
        self.browserVisible = ko.observable(document.visibilityState !== "hidden");
        self.historyShort = HISTORY_SHORT;

        // ~~ permissions and readiness
        self.running = ko.pureComputed(function () {
            return self.state() === "running";
        });

        // A focus map holds the run slot (started in the map section or by @AUTOFOCUS MAP).
        self.mapRunning = ko.pureComputed(function () {
            return self.running() && (self.run() || {}).kind === "map";
        });

        self.canSee = ko.pureComputed(function () {
            return self.loginState.hasPermission(self.access.permissions.STATUS);
        });

        self.canRun = ko.pureComputed(function () {
            var runPermission = self.access.permissions.PLUGIN_AUTOFOCUS_RUN;
            return (
                runPermission !== undefined &&
                self.loginState.hasAllPermissions(
                    runPermission,
                    self.access.permissions.CONTROL
                )
            );
        });

        self.canSaveRoi = ko.pureComputed(function () {
            return self.loginState.hasPermission(self.access.permissions.SETTINGS);
        });

        // Why a run cannot start now, or "" when it can.
        self.blockedReason = ko.pureComputed(function () {
            if (!self.printerState.isOperational()) {
                return gettext("The printer is not connected.");
            }
            if (self.printerState.isBusy()) {
                return gettext("The printer is busy with a job.");
            }
            if (self.running()) {
                return self.mapRunning() ? gettext("A focus map is running.") : gettext("A focus run is going.");
            }
            if (!self.camera()) {
                return gettext("No camera is selected.");
            }
            return "";
        });

        self.canStart = ko.pureComputed(function () {
            return self.canRun() && self.blockedReason() === "";
        });

        self.canHome = ko.pureComputed(function () {
            return self.canStart() && self.referenceZ() !== null;
        });

        // The jog step as typed, or null with jogStepError saying what is wrong.
        self.jogStepValue = ko.pureComputed(function () {
            var raw = self.jogStep();
            var step = raw === "" || raw === null ? NaN : Number(raw);
            return step > 0 && step <= self._jogMax ? step : null;
        });

        self.jogStepError = ko.pureComputed(function () {
            if (self.jogStepValue() !== null) return "";
            return _.sprintf(
                gettext("Enter a step above 0 and at most %(max)s mm; the arrows give the direction."),
                {max: self._jogMax}
            );
        });

        self.canJog = ko.pureComputed(function () {
            return (
                self.canRun() &&
                !self.running() &&
                self.jogStepValue() !== null &&
                self.printerState.isOperational() &&
                !self.printerState.isBusy()
            );
        });

        // ~~ titles
        self.searchRange = ko.pureComputed(function () {
            return self._pluginSetting("search_range");
        });

        self.startTitle = ko.pureComputed(function () {
            return _.sprintf(
                gettext(
                    "Search Z within %(range)s mm of the current height for the sharpest image in the selected region, and stay there."
                ),
                {range: self.searchRange()}
            );
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

        self.cancelTitle = ko.pureComputed(function () {
            return self.mapRunning()
                ? gettext("Stop the focus map at once: Z is lifted to the travel height and nothing more is sent.")
                : gettext("Stop the focus run at once. No further focus moves are sent.");
        });

        self.cancelText = ko.pureComputed(function () {
            return self.mapRunning() ? gettext("Cancel map") : gettext("Cancel");
        });

        self.jogUpTitle = ko.pureComputed(function () {
            return _.sprintf(gettext("Move Z up by %(step)s mm"), {step: self.jogStepValue() || "-"});
        });

        self.jogDownTitle = ko.pureComputed(function () {
            return _.sprintf(gettext("Move Z down by %(step)s mm"), {step: self.jogStepValue() || "-"});
        });

        self.referenceText = ko.pureComputed(function () {
            var now = self.referenceZ() === null ? gettext("not set") : formatMm(self.referenceZ());
            var before = self.previousReferenceZ();
            return before === null ? now : _.sprintf(gettext("%(now)s (was %(before)s)"), {
                now: now,
                before: formatMm(before)
            });
        });

        // ~~ current Z and the last focus
        self.zKnown = ko.pureComputed(function () {
            return self.position().state !== "unknown" && finite(self.position().z);
        });

        self.currentZText = ko.pureComputed(function () {
            return self.zKnown() ? formatMm(self.position().z) : gettext("unknown");
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
                return item.ok && FOCUS_KINDS.indexOf(item.kind) >= 0 && finite(item.z);
            });
            if (!entry) return null;
            var z = entry.kind === "home" && finite(entry.correction) ? entry.z + entry.correction : entry.z;
            return {z: z, started: entry.started};
        });

        self.focusDistanceText = ko.pureComputed(function () {
            var focus = self.lastFocus();
            if (!focus) return gettext("No focus found yet.");
            var text = _.sprintf(gettext("Last focus: %(z)s"), {z: formatMm(focus.z)});
            if (!self.zKnown()) return text;
            var distance = self.position().z - focus.z;
            if (Math.abs(distance) < AT_FOCUS_MM) return text + " " + gettext("(you are there)");
            return (
                text + " " +
                _.sprintf(distance > 0 ? gettext("(%(d)s above it)") : gettext("(%(d)s below it)"), {
                    d: formatMm(Math.abs(distance))
                })
            );
        });

        // ~~ live score
        self.metricName = ko.pureComputed(function () {
            var metric = self._pluginSetting("metric") || "tenengrad";
            return self._metricNames[metric] || metric;
        });

        self.currentScore = ko.pureComputed(function () {
            var scores = self.scores();
            return scores.length ? scores[scores.length - 1] : null;
        });

        self.currentScoreText = ko.pureComputed(function () {
            return formatScore(self.currentScore());
        });

        self.percentOfBestText = ko.pureComputed(function () {
            var score = self.currentScore();
            var best = self.bestScore();
            if (!finite(score) || !(best > 0)) return "";
            return _.sprintf(gettext("%(percent)s %% of best"), {percent: Math.round((100 * score) / best)});
        });

        self.scoreTitle = ko.pureComputed(function () {
            return _.sprintf(
                gettext(
                    "Sharpness of the region, measured by %(metric)s: higher is sharper. Its scale depends on the measure, the picture and the light, so compare it with itself: \u201c%% of best\u201d is the share of the sharpest value seen since the region was chosen."
                ),
                {metric: self.metricName()}
            );
        });

        // SVG polyline points of the recent scores, in a 100 x 30 box; the newest at the right.
        self.sparkline = ko.pureComputed(function () {
            var scores = self.scores();
            if (scores.length < 2) return "";
            var lo = Math.min.apply(null, scores);
            var hi = Math.max.apply(null, scores);
            var span = hi - lo || 1;
            var last = scores.length - 1;
            return scores
                .map(function (score, i) {
                    var x = 100 - (100 * (last - i)) / (SPARKLINE_LENGTH - 1);
                    var y = 28 - (26 * (score - lo)) / span;
                    return x.toFixed(1) + "," + y.toFixed(1);
                })
                .join(" ");
        });

        self.liveWanted = ko.pureComputed(function () {
            return self.tabActive() && self.browserVisible() && self.canSee();
        });

        self.scoreWanted = ko.pureComputed(function () {
            return self.liveWanted() && !self.running() && !!self.camera();
        });

        // ~~ live view and the region
        // Height of the view as a share of its width: the displayed image's aspect.
        self.viewPadding = ko.pureComputed(function () {
            var size = self.displaySize();
            return (100 * (size ? size.height / size.width : 0.75)).toFixed(3) + "%";
        });

        // The picture's size as shown (after a 90 degree rotation), in camera pixels.
        self.displaySize = ko.pureComputed(function () {
            var size = self.imageSize();
            if (!size) return null;
            var rotated = (self.camera() || {}).rotate90;
            return rotated ? {width: size.height, height: size.width} : size;
        });

        // The camera's flip and rotation, as OctoPrint's webcam shows them.
        self.imageStyle = ko.pureComputed(function () {
            var camera = self.camera() || {};
            var size = self.imageSize();
            var flips =
                "scale(" + (camera.flipH ? -1 : 1) + "," + (camera.flipV ? -1 : 1) + ")";
            if (!camera.rotate90 || !size) {
                return {width: "100%", height: "100%", left: "0", top: "0", transform: flips};
            }
            var ratio = size.width / size.height;
            return {
                width: (100 * ratio).toFixed(3) + "%",
                height: (100 / ratio).toFixed(3) + "%",
                left: "50%",
                top: "50%",
                transform: "translate(-50%, -50%) rotate(-90deg) " + flips
            };
        });

        self.shownRoi = ko.pureComputed(function () {
            return self.draftRoi() || self.roi();
        });

        self.roiStyle = ko.pureComputed(function () {
            var roi = self.shownRoi() || {x: 0, y: 0, w: 1, h: 1};
            return {
                left: 100 * roi.x + "%",
                top: 100 * roi.y + "%",
                width: 100 * roi.w + "%",
                height: 100 * roi.h + "%"
            };
        });

        self.viewTitle = ko.pureComputed(function () {
            return self.canRun()
                ? gettext("Drag on the picture to choose the region to focus on")
                : "";
        });

        // Which picture the backend scores and why (e.g. an OctoPi stream found from the snapshot URL).
        self.cameraSourceText = ko.pureComputed(function () {
            var source = (self.camera() || {}).source;
            return source && source.reason ? source.reason : "";
        });

        self.cameraMessage = ko.pureComputed(function () {
            if (!self.camera()) {
                return gettext(
                    "No camera is selected. Choose one under Settings > Autofocus, or enable the simulated microscope there (Advanced settings)."
                );
            }
            if (self.imageError()) {
                return gettext(
                    "The camera picture does not load. Check the camera and its URLs in the settings."
                );
            }
            if (!self.imageSize()) {
                return gettext("Loading camera picture...");
            }
            return "";
        });

        // ~~ large view: the region at one camera pixel per CSS pixel
        // A stream goes to the large view alone; snapshots are shared with the tab's picture.
        self.largeSrc = ko.pureComputed(function () {
            var camera = self.camera();
            if (!self.largeOpen() || !camera) return null;
            return camera.stream_url ? (self.liveWanted() ? camera.stream_url : null) : self.liveSrc();
        });

        self.largeRoiPixels = ko.pureComputed(function () {
            var size = self.displaySize();
            var roi = self.roi();
            if (!size || !roi) return null;
            return {
                x: Math.round(roi.x * size.width),
                y: Math.round(roi.y * size.height),
                w: Math.max(1, Math.round(roi.w * size.width)),
                h: Math.max(1, Math.round(roi.h * size.height))
            };
        });

        self.largeBoxStyle = ko.pureComputed(function () {
            var px = self.largeRoiPixels();
            return px ? {width: px.w + "px", height: px.h + "px"} : {width: "320px", height: "240px"};
        });

        self.largeInnerStyle = ko.pureComputed(function () {
            var size = self.displaySize();
            var px = self.largeRoiPixels();
            if (!size || !px) return {};
            return {
                width: size.width + "px",
                height: size.height + "px",
                left: -px.x + "px",
                top: -px.y + "px"
            };
        });

        self.largeScaleText = ko.pureComputed(function () {
            var px = self.largeRoiPixels();
            if (!px) return gettext("Waiting for the camera picture...");
            return _.sprintf(
                gettext("The region is %(w)d x %(h)d camera pixels, shown one to one. Jog Z and watch the sharpness rise."),
                {w: px.w, h: px.h}
            );
        });

        // ~~ run, result and plot
        self.showPlot = ko.pureComputed(function () {
            return self.running() || !!self._plottedRecord();
        });

        self.plotTitle = ko.pureComputed(function () {
            var point = self.mapPointText();
            return point
                ? _.sprintf(gettext("Sharpness against Z \u2013 focus map, %(point)s"), {point: point})
                : gettext("Sharpness against Z");
        });

        // The map's point being focused now, in words, or "" (a focus run, or between points).
        self.mapPointText = ko.pureComputed(function () {
            var point = self.mapRunning() ? self.run().point : null;
            if (!point) return "";
            return _.sprintf(gettext("point %(n)d of %(total)d (X %(x)s mm, Y %(y)s mm)"), {
                n: point.number,
                total: point.total,
                x: Number(point.x).toFixed(1),
                y: Number(point.y).toFixed(1)
            });
        });

        self.progressTitle = ko.pureComputed(function () {
            var run = self.run() || {};
            if (self.mapRunning()) {
                var what = run.in_job
                    ? gettext("The print job is measuring a focus map")
                    : gettext("Focus map running");
                return self.mapPointText() ? what + ": " + self.mapPointText() : what;
            }
            return run.in_job ? gettext("The print job is focusing (@AUTOFOCUS)") : "";
        });

        self.progressText = ko.pureComputed(function () {
            var run = self.run();
            var samples = self.samples();
            var n = samples.length;
            var counted = self.mapRunning()
                ? ngettext("%(count)d position measured at this point", "%(count)d positions measured at this point", n)
                : ngettext("%(count)d position measured", "%(count)d positions measured", n);
            var text = _.sprintf(counted, {count: n});
            if (run && run.phase) {
                text += " (" + (self._texts.phases[run.phase] || run.phase) + ")";
            }
            if (samples.length) {
                text += ", " + _.sprintf(gettext("last Z %(z)s"), {
                    z: formatMm(samples[samples.length - 1][0])
                });
            }
            return text;
        });

        self.result = ko.pureComputed(function () {
            var record = self._plottedRecord();
            if (!record || self.running()) return null;
            var reason = record.reason || "";
            var cancelled = reason === "cancelled";
            var moveZ = self._moveTarget(record);
            var wider = self._widerRange(record);
            return {
                ok: !!record.ok,
                cancelled: cancelled,
                title: record.ok
                    ? gettext("In focus")
                    : cancelled
                      ? gettext("Cancelled")
                      : reason === "needs_confirmation"
                        ? gettext("Not homed")
                        : gettext("Not focused"),
                kind: self._texts.kinds[record.kind] || record.kind,
                zLabel: record.ok ? gettext("Focused Z") : gettext("Z now"),
                z: formatMm(record.ok ? record.z : record.final_z),
                referenceChange: self._referenceChange(record),
                showCorrection: record.kind === "home" && finite(record.correction),
                correction: formatMm(record.correction),
                frames: record.frames,
                elapsed: Number(record.elapsed || 0).toFixed(1) + " s",
                explanation: self._explanation(record),
                detail: self._detail(record),
                advice: self._advice(record),
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
                homeAnyway: reason === "needs_confirmation" && finite(record.proposed_correction),
                homeAnywayText: _.sprintf(gettext("Home anyway (shift Z by %(correction)s)"), {
                    correction: signedMm(record.proposed_correction)
                }),
                downloadUrl: record.run_id
                    ? OctoPrint.plugins.autofocus.recordUrl(record.run_id)
                    : null,
                downloadName: "autofocus-" + record.run_id + ".json"
            };
        });

        self.historyRows = ko.pureComputed(function () {
            return self.history().map(self._historyRow);
        });

        self.shownHistoryRows = ko.pureComputed(function () {
            var rows = self.historyRows();
            return self.historyExpanded() ? rows : rows.slice(0, HISTORY_SHORT);
        });

        self.historyToggleText = ko.pureComputed(function () {
            return self.historyExpanded()
                ? gettext("Show fewer")
                : _.sprintf(gettext("Show all %(count)d runs"), {count: self.historyRows().length});
        });

        // ~~ actions
        self.startFocus = function () {
            self._start({});
        };

        self.cancelRun = function () {
            self._request(OctoPrint.plugins.autofocus.cancel());
        };

        self.showMap = function () {
            var section = document.getElementById("autofocus_map");
            if (section) section.scrollIntoView({behavior: "smooth", block: "start"});
        };

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

        self.homeAnyway = function () {
            self._request(OctoPrint.plugins.autofocus.home(true));
        };

        self.jogUp = function () {
            self._jog(1);
        };

        self.jogDown = function () {
            self._jog(-1);
        };

        self.moveAnyway = function (result) {
            self._request(OctoPrint.plugins.autofocus.move(result.moveZ));
        };

        self.searchWider = function (result) {
            self._start({range: result.wider});
        };

        self.resetRoi = function () {
            self._storeRoi(self._centreRoi);
        };

        self.toggleHistory = function () {
            self.historyExpanded(!self.historyExpanded());
        };

        self.openLargeView = function () {
            $("#autofocus_large_view").modal("show");
        };

        // ROI drag with pointer events (mouse, pen and touch alike).
        self.onPointerDown = function (data, event) {
            if (!self.canRun()) return true;
            var start = self._fractionAt(event);
            self._dragStart = start;
            event.currentTarget.setPointerCapture(event.pointerId);
            self.draftRoi({x: start.x, y: start.y, w: 0, h: 0});
            return false;
        };

        self.onPointerMove = function (data, event) {
            if (!self._dragStart) return true;
            var here = self._fractionAt(event);
            var start = self._dragStart;
            self.draftRoi({
                x: Math.min(start.x, here.x),
                y: Math.min(start.y, here.y),
                w: Math.abs(here.x - start.x),
                h: Math.abs(here.y - start.y)
            });
            return false;
        };

        self.onPointerUp = function () {
            if (!self._dragStart) return true;
            var roi = self.draftRoi();
            self._dragStart = null;
            self.draftRoi(null);
            if (roi.w >= MIN_ROI_FRACTION && roi.h >= MIN_ROI_FRACTION) {
                self._storeRoi(roi);
            }
            return false;
        };

        self.onImageLoad = function (data, event) {
            var img = event.target;
            if (img.naturalWidth && img.naturalHeight) {
                self.imageSize({width: img.naturalWidth, height: img.naturalHeight});
            }
            self.imageError(false);
            self._scheduleSnapshot();
        };

        self.onImageError = function () {
            if (self.liveSrc()) self.imageError(true);
            self._scheduleSnapshot();
        };

        // ~~ data
        self.requestData = function () {
            if (!self.canSee()) return;
            OctoPrint.plugins.autofocus.get().done(self.fromResponse);
        };

        self.fromResponse = function (data) {
            self.state(data.state);
            self.referenceZ(
                data.reference_z === undefined ? null : data.reference_z
            );
            self.history(data.history || []);
            self.last(data.last || null);
            if (data.position) self.position(data.position);
            self._setRun(data.run);
            self._setCamera(data.camera || null);
            self._plot();
        };

        // ~~ OctoPrint callbacks
        self.onBeforeBinding = function () {
            self._centreRoi = $(TAB_ID + " .autofocus").data("centreRoi") || self._centreRoi;
            self._jogMax = Number($("#autofocus_jog_step").attr("max"));
            $(TAB_ID + " .autofocus-metric-names [data-metric]").each(function () {
                self._metricNames[this.dataset.metric] = $(this).text();
            });
            self._loadSettings();
            self.liveWanted.subscribe(self._updateLive);
            self.largeOpen.subscribe(self._updateLive);
            self.running.subscribe(function (running) {
                if (running) self._resetScores();
            });
            self.scoreWanted.subscribe(function (wanted) {
                if (wanted) self._pollScore();
            });
        };

        self.onAllBound = function () {
            // Bootstrap modals belong to the body (the tab's stacking would put it under the backdrop).
            $("#autofocus_large_view")
                .appendTo("body")
                .on("show", function () {
                    self.largeOpen(true);
                })
                .on("hidden", function () {
                    self.largeOpen(false);
                });
            $(window).on("resize", _.debounce(self._plot, 200));
        };

        self.onStartupComplete = function () {
            self.tabActive(OctoPrint.coreui.selectedTab === TAB_ID);
            self.requestData();
        };

        self.onUserLoggedIn = self.requestData;

        self.onSettingsHidden = function () {
            self._loadSettings();
            self.requestData();
        };

        self.onEventSettingsUpdated = self.requestData;

        self.onTabChange = function (current) {
            self.tabActive(current === TAB_ID);
        };

        self.onAfterTabChange = function (current) {
            if (current === TAB_ID) self._plot();
        };

        self.onBrowserTabVisibilityChange = function (visible) {
            self.browserVisible(visible);
        };

        self.onDataUpdaterPluginMessage = function (plugin, data) {
            if (plugin !== "autofocus" || !data) return;
            if (data.type === "position") {
                self.position({z: data.z, state: data.state});
                return;
            }
            if (data.type === "state") {
                self.state(data.state);
                self._setRun(data.run);
            } else if (data.type === "progress") {
                self.samples.push([data.z, data.score]);
                self._addScore(data.score);
                self.run(_.extend({}, self.run(), {phase: data.phase}));
            } else if (data.type === "error") {
                self._notify(data.message, "error");
            } else if (data.type === "map_done" || data.type === "map_failed") {
                self.requestData(); // the map's row in the recent runs (the map section tells the result)
            } else if (data.record) {
                self._finished(data.type, data.record);
            }
            self._plot();
        };

        // ~~ helpers
        // One message per event: the result box speaks while someone watches the tab; a
        // toast tells those who do not (a failed @AUTOFOCUS in a job). Toasts shown to a
        // watcher hide after a few seconds.
        self._notify = function (message, type) {
            new PNotify({
                title: gettext("Autofocus"),
                text: _.escape(message || gettext("Autofocus failed")),
                type: type,
                hide: self._watching(),
                delay: TOAST_MS
            });
        };

        self._watching = function () {
            return self.tabActive() && self.browserVisible();
        };

        self._finished = function (type, record) {
            if (type === "failed" && !self._watching()) {
                self._notify(self._explanation(record), "error");
            }
            self.last(record);
            self.state("idle");
            self.requestData();
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

        // What happened, in plain words of the page's language, from the record's fields (the
        // record's own message is English and stays for the log and the download).
        self._explanation = function (record) {
            var reason = record.reason || "";
            var values = {z: formatMm(record.z), lo: formatMm(record.z_min), hi: formatMm(record.z_max),
                          edge: formatMm(record.edge_z), correction: signedMm(record.proposed_correction),
                          limit: formatMm((record.settings || {}).max_correction)};
            if (record.ok) return self._extensionText(record);
            if (reason === "cancelled") return capitalised(record.message) || self._texts.reasons.cancelled;
            var key = reason;
            if (reason === "peak_at_edge" && finite(record.edge_z) && (record.edge_kind === "limit" || record.edge_kind === "budget")) {
                key = "edge_" + record.edge_kind + (self._edgeBelow(record) ? "_below" : "_above");
            }
            var text = self._texts.reasons[key];
            return text ? _.sprintf(text, values) : capitalised(record.message);
        };

        // A device's or the job's own words about what failed ("could not connect to ..."), if any.
        self._detail = function (record) {
            if (record.ok || DEVICE_REASONS.indexOf(record.reason) < 0 || !record.message) return "";
            return _.sprintf(gettext("Details: %(message)s"), {message: record.message});
        };

        self._advice = function (record) {
            if (record.ok) return "";
            if (record.reason === "peak_at_edge" && record.edge_kind === "limit") return self._texts.advice.peak_at_limit;
            return self._texts.advice[record.reason] || "";
        };

        self._edgeBelow = function (record) {
            return finite(record.z_min) && Math.abs(record.edge_z - record.z_min) <= Math.abs(record.edge_z - record.z_max);
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

        self._referenceChange = function (record) {
            if (record.kind !== "reference" || !record.ok) return "";
            var old = record.settings ? record.settings.reference_z : null;
            return finite(old)
                ? _.sprintf(gettext("%(old)s \u2192 %(new)s"), {old: formatMm(old), "new": formatMm(record.z)})
                : formatMm(record.z);
        };

        // The best Z of a failed run a person may go to anyway, or null.
        self._moveTarget = function (record) {
            if (record.ok || MOVE_REASONS.indexOf(record.reason) < 0 || !finite(record.z)) return null;
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

        self._historyRow = function (entry) {
            var map = entry.kind === "map";
            var plan = entry.map || entry;
            var grid = plan.rows && plan.cols ? plan.rows + "\u00d7" + plan.cols : "";
            return {
                when: entry.started ? shortDate(entry.started) : "-",
                whenFull: entry.started ? formatDate(entry.started, {seconds: true}) : "",
                kind: map && grid
                    ? _.sprintf(gettext("Focus map %(grid)s"), {grid: grid})
                    : self._texts.kinds[entry.kind] || entry.kind,
                ok: !!entry.ok,
                verdict: entry.ok
                    ? map ? gettext("measured") : gettext("focused")
                    : entry.reason === "cancelled"
                      ? gettext("cancelled")
                      : gettext("failed"),
                message: entry.ok ? "" : entry.message || "",
                z: entry.ok && !map ? formatMm(entry.z) : "-",
                downloadUrl: OctoPrint.plugins.autofocus.recordUrl(entry.run_id)
            };
        };

        // The record the result box and the plot show: the last run, unless it is a map.
        self._plottedRecord = function () {
            var record = self.last();
            return record && record.kind !== "map" && record.samples ? record : null;
        };

        self._start = function (options) {
            self._pendingReference = null;
            return self._request(OctoPrint.plugins.autofocus.start(_.extend({roi: self.roi()}, options)));
        };

        self._pluginSetting = function (key) {
            var plugin = self.settingsViewModel.settings.plugins.autofocus;
            return plugin && plugin[key] ? ko.toJS(plugin[key]) : null;
        };

        self._loadSettings = function () {
            var roi = self._pluginSetting("roi");
            var chosen = roi && roi.w > 0 && roi.h > 0 ? roi : self._centreRoi;
            if (!_.isEqual(chosen, self.roi())) self._resetScores();
            self.roi(chosen);
            var step = parseFloat(self._pluginSetting("jog_step"));
            if (step > 0) self.jogStep(step);
        };

        self._resetScores = function () {
            self.scores([]);
            self.bestScore(null);
        };

        self._addScore = function (score) {
            if (!finite(score)) return;
            self.scores.push(score);
            if (self.scores().length > SPARKLINE_LENGTH) self.scores.shift();
            if (!(self.bestScore() >= score)) self.bestScore(score);
        };

        // Saved rounded, and never reaching past the image's edge (the server checks that).
        self._storeRoi = function (roi) {
            var round = function (value) {
                return Math.floor(value * 10000) / 10000;
            };
            var rounded = {x: round(roi.x), y: round(roi.y)};
            rounded.w = Math.min(round(roi.w), round(1 - rounded.x));
            rounded.h = Math.min(round(roi.h), round(1 - rounded.y));
            self.roi(rounded);
            self._resetScores();
            if (self.canSaveRoi()) {
                OctoPrint.settings.savePluginSettings("autofocus", {roi: rounded});
            }
        };

        self._fractionAt = function (event) {
            var box = event.currentTarget.getBoundingClientRect();
            return {
                x: clamp((event.clientX - box.left) / box.width, 0, 1),
                y: clamp((event.clientY - box.top) / box.height, 0, 1)
            };
        };

        self._jog = function (direction) {
            var step = self.jogStepValue();
            if (step === null) return;
            self._request(OctoPrint.plugins.autofocus.jog(direction * step));
        };

        self._request = function (promise) {
            self.requestError(null);
            return promise.fail(function (jqXHR) {
                var reply = jqXHR.responseJSON || {};
                self.requestError(
                    reply.error || jqXHR.statusText || gettext("The request failed.")
                );
            });
        };

        // A new run, or a focus map's next point, starts from the samples the server has.
        self._setRun = function (run) {
            var previous = self.run();
            self.run(run || null);
            if (run && (!previous || previous.run_id !== run.run_id || !_.isEqual(previous.point, run.point))) {
                self.samples(run.samples || []);
            }
        };

        self._setCamera = function (camera) {
            var before = JSON.stringify(self.camera());
            if (before === JSON.stringify(camera)) return;
            self.camera(camera);
            self.imageSize(null);
            self.imageError(false);
            self._resetScores();
            self._updateLive();
        };

        self._cameraSrc = function () {
            var camera = self.camera();
            if (!self.liveWanted() || !camera) return null;
            if (camera.stream_url) return camera.stream_url;
            if (camera.snapshot_url) return withCacheBuster(camera.snapshot_url);
            return null;
        };

        // Show the MJPEG stream, or refresh snapshots, only while someone looks; while the
        // large view is open it has the only stream.
        self._updateLive = function () {
            clearTimeout(self._snapshotTimer);
            var camera = self.camera();
            var largeStreams = self.largeOpen() && camera && camera.stream_url;
            self.liveSrc(largeStreams ? null : self._cameraSrc());
        };

        self._scheduleSnapshot = function () {
            var camera = self.camera();
            if (!camera || camera.stream_url || !camera.snapshot_url) return;
            clearTimeout(self._snapshotTimer);
            self._snapshotTimer = setTimeout(self._updateLive, SNAPSHOT_INTERVAL_MS);
        };

        // One score request at a time, a few a second, while the view is watched.
        self._pollScore = function () {
            if (self._scoring || !self.scoreWanted()) return;
            self._scoring = true;
            var delay = SCORE_INTERVAL_MS;
            OctoPrint.plugins.autofocus
                .score(self.roi())
                .done(function (reply) {
                    // a slow camera answers with the last picture it delivered, and its age
                    self.scoreError(reply.stale
                        ? _.sprintf(gettext("The camera is slow: this value is from a picture %(age)s s old."),
                                    {age: Number(reply.age).toFixed(1)})
                        : null);
                    self._addScore(reply.score);
                })
                .fail(function (jqXHR) {
                    var reply = jqXHR.responseJSON || {};
                    delay = SCORE_RETRY_MS;
                    self.scoreError(
                        _.sprintf(gettext("No sharpness reading: %(why)s"), {
                            why: reply.error || gettext("the camera did not answer.")
                        })
                    );
                })
                .always(function () {
                    self._scoring = false;
                    setTimeout(self._pollScore, delay);
                });
        };

        // Score against Z: the samples as measured, then the fitted curve and the chosen Z.
        self._plot = function () {
            var target = $("#autofocus_plot");
            if (!self.tabActive() || !target.is(":visible")) return;
            var record = self.running() ? null : self._plottedRecord();
            var run = self.run() || {};
            var view = record
                ? {
                      samples: record.samples,
                      fit: record.fit,
                      window: record.window || null,
                      searched: [record.z_min, record.z_max],
                      start: record.start_z,
                      chosen: record.ok || MOVE_REASONS.indexOf(record.reason) >= 0 ? record.z : null,
                      ok: !!record.ok
                  }
                : {samples: self.samples(), window: run.window || null, start: run.start_z};
            self._plotted = OctoPrintAutofocusPlot.draw(target, $("#autofocus_plot_legend"), view);
        };
    }

    OCTOPRINT_VIEWMODELS.push({
        construct: AutofocusViewModel,
        dependencies: [
            "loginStateViewModel",
            "settingsViewModel",
            "printerStateViewModel",
            "accessViewModel"
        ],
        elements: [TAB_ID]
    });
});
