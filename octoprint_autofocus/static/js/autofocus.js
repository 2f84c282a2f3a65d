/*
 * OctoPrint-Autofocus view models: the Autofocus tab and the settings pane.
 * The REST client is OctoPrint.plugins.autofocus (static/clientjs/autofocus.js).
 */
$(function () {
    var TAB_ID = "#tab_plugin_autofocus";
    var SCORE_INTERVAL_MS = 300;
    var SNAPSHOT_INTERVAL_MS = 500;
    var SPARKLINE_LENGTH = 40;
    var MIN_ROI_FRACTION = 0.02;
    var CENTRE_ROI = {x: 0.25, y: 0.25, w: 0.5, h: 0.5};

    // Texts built once the page's translations are installed (after OctoPrint's main.js ran).
    function uiTexts() {
        return {
            // Plain words for every REASONS key of focus/result.py, with what to try next.
            advice: {
                no_peak: gettext(
                    "No clear sharpest position was found. Check that the camera sees a textured, well-lit surface, then widen the search range."
                ),
                peak_at_edge: gettext(
                    "The sharpest image was at the end of the searched range, so focus probably lies outside it. Jog Z closer to focus by hand or widen the search range, then run again."
                ),
                low_texture: gettext(
                    "The selected region has too little detail to judge focus. Drag a region over printed text, a part edge or another detailed area, or add light."
                ),
                poor_fit: gettext(
                    "The sharpness values were too noisy to trust. Increase the frames per position or the settle time, and make sure the light does not flicker."
                ),
                verify_failed: gettext(
                    "The image at the chosen Z was less sharp than during the search. Increase the settle time or the backlash overscan."
                ),
                camera_error: gettext(
                    "The camera did not deliver a picture. Check the camera choice and its URLs in the settings."
                ),
                camera_stalled: gettext(
                    "The camera stopped sending new pictures. Check its connection, or raise the camera timeout in the settings."
                ),
                stage_error: gettext(
                    "Z did not move or did not confirm the move. Check that the printer is connected and idle, the Z limits and the move G-code template."
                ),
                cancelled: gettext("The run was cancelled before it finished.")
            },
            kinds: {
                focus: gettext("Autofocus"),
                reference: gettext("Set reference"),
                home: gettext("Home Z")
            },
            phases: {
                coarse: gettext("coarse search"),
                fine: gettext("fine search"),
                verify: gettext("verifying")
            }
        };
    }

    function formatMm(value) {
        return value === null || value === undefined || isNaN(value)
            ? "-"
            : Number(value).toFixed(3) + " mm";
    }

    function clamp(value, lo, hi) {
        return Math.min(hi, Math.max(lo, value));
    }

    // Value of a fitted focus curve at z, or null for a model this page does not know.
    // focus/fit.py fits a parabola y = c2 u^2 + c1 u + c0 (u = z - centre) to 1/score
    // ("lorentzian") or log(score) ("gaussian"); its vertex is at z_peak.
    function fitValue(fit, z) {
        var p = fit.params || {};
        var c2 = p.c2 !== undefined ? p.c2 : p[0];
        var c1 = p.c1 !== undefined ? p.c1 : p[1];
        var c0 = p.c0 !== undefined ? p.c0 : p[2];
        var y = c2 * Math.pow(z - fit.z_peak, 2) + c0 - (c1 * c1) / (4 * c2);
        if (fit.model === "lorentzian") return y > 0 ? 1 / y : null;
        if (fit.model === "gaussian") return Math.exp(y);
        return null;
    }

    // The fitted curve over the samples it used, and at least one peak width either side.
    function fitCurve(fit) {
        if (!fit || fitValue(fit, fit.z_peak) === null) return [];
        var width = (fit.params && fit.params.fwhm) || 0;
        var lo = Math.min(fit.z_lo, fit.z_peak - width);
        var hi = Math.max(fit.z_hi, fit.z_peak + width);
        var points = [];
        var steps = 80;
        for (var i = 0; i <= steps; i++) {
            var z = lo + ((hi - lo) * i) / steps;
            var value = fitValue(fit, z);
            if (value !== null && isFinite(value)) points.push([z, value]);
        }
        return points;
    }

    function withCacheBuster(url) {
        return url + (url.indexOf("?") >= 0 ? "&" : "?") + "_af=" + Date.now();
    }

    function AutofocusViewModel(parameters) {
        var self = this;

        // ~~ dependencies
        self.loginState = parameters[0];
        self.settingsViewModel = parameters[1];
        self.printerState = parameters[2];
        self.access = parameters[3];

        self._texts = uiTexts();

        // ~~ observables
        self.state = ko.observable("idle");
        self.run = ko.observable(null);
        self.samples = ko.observableArray([]);
        self.last = ko.observable(null);
        self.history = ko.observableArray([]);
        self.referenceZ = ko.observable(null);
        self.camera = ko.observable(null);
        self.roi = ko.observable(CENTRE_ROI);
        self.draftRoi = ko.observable(null);
        self.imageSize = ko.observable(null);
        self.imageError = ko.observable(false);
        self.liveSrc = ko.observable(null);
        self.scores = ko.observableArray([]);
        self.scoreError = ko.observable(null);
        self.jogStep = ko.observable(0.1);
        self.requestError = ko.observable(null);
        self.tabActive = ko.observable(false);
        self.browserVisible = ko.observable(document.visibilityState !== "hidden");

        // ~~ computed
        self.running = ko.pureComputed(function () {
            return self.state() === "running";
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
                return gettext("A focus run is going.");
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

        self.canJog = ko.pureComputed(function () {
            return (
                self.canRun() &&
                !self.running() &&
                self.printerState.isOperational() &&
                !self.printerState.isBusy()
            );
        });

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

        self.referenceTitle = gettext(
            "Focus on the reference surface now and remember the focused Z as the reference for homing by focus. Home Z the normal way first."
        );

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

        self.cancelTitle = gettext(
            "Stop the focus run at once. No further focus moves are sent."
        );

        self.jogUpTitle = ko.pureComputed(function () {
            return _.sprintf(gettext("Move Z up by %(step)s mm"), {step: self.jogStep()});
        });

        self.jogDownTitle = ko.pureComputed(function () {
            return _.sprintf(gettext("Move Z down by %(step)s mm"), {step: self.jogStep()});
        });

        self.referenceText = ko.pureComputed(function () {
            return self.referenceZ() === null ? gettext("not set") : formatMm(self.referenceZ());
        });

        self.currentScore = ko.pureComputed(function () {
            var scores = self.scores();
            return scores.length ? scores[scores.length - 1] : null;
        });

        self.currentScoreText = ko.pureComputed(function () {
            var score = self.currentScore();
            if (score === null) return "-";
            return score >= 1000 ? Math.round(score).toLocaleString() : score.toPrecision(4);
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

        // Height of the view as a share of its width: the displayed image's aspect.
        self.viewPadding = ko.pureComputed(function () {
            var size = self.imageSize();
            var camera = self.camera();
            var ratio = size ? size.height / size.width : 0.75;
            if (camera && camera.rotate90) ratio = 1 / ratio;
            return (100 * ratio).toFixed(3) + "%";
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

        self.cameraMessage = ko.pureComputed(function () {
            if (!self.camera()) {
                return gettext(
                    "No camera is selected. Choose one under Settings > Autofocus, or enable the simulated microscope there."
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

        self.showPlot = ko.pureComputed(function () {
            var record = self.last();
            return self.running() || !!(record && record.samples && record.samples.length);
        });

        self.progressText = ko.pureComputed(function () {
            var run = self.run();
            var samples = self.samples();
            var text = _.sprintf(gettext("%(count)d positions measured"), {
                count: samples.length
            });
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
            var record = self.last();
            if (!record || self.running()) return null;
            var reason = record.reason || "";
            return {
                ok: !!record.ok,
                title: record.ok
                    ? gettext("In focus")
                    : reason === "cancelled"
                      ? gettext("Cancelled")
                      : gettext("Not focused"),
                kind: self._texts.kinds[record.kind] || record.kind,
                z: formatMm(record.ok ? record.z : record.final_z),
                showCorrection:
                    record.kind === "home" &&
                    record.correction !== null &&
                    record.correction !== undefined,
                correction: formatMm(record.correction),
                frames: record.frames,
                elapsed: Number(record.elapsed || 0).toFixed(1) + " s",
                // known reasons get advice in the user's language, others the server's words
                explanation: record.ok
                    ? ""
                    : self._texts.advice[reason] || record.message || "",
                downloadUrl: record.run_id
                    ? OctoPrint.plugins.autofocus.recordUrl(record.run_id)
                    : null,
                downloadName: "autofocus-" + record.run_id + ".json"
            };
        });

        self.historyRows = ko.pureComputed(function () {
            return self.history().map(function (entry) {
                return {
                    when: entry.started ? formatDate(entry.started) : "-",
                    kind: self._texts.kinds[entry.kind] || entry.kind,
                    ok: !!entry.ok,
                    verdict: entry.ok
                        ? gettext("focused")
                        : entry.reason === "cancelled"
                          ? gettext("cancelled")
                          : gettext("failed"),
                    z: entry.ok ? formatMm(entry.z) : "-",
                    downloadUrl: OctoPrint.plugins.autofocus.recordUrl(entry.run_id)
                };
            });
        });

        // ~~ actions
        self.startFocus = function () {
            var options = {roi: self.roi()};
            self._request(OctoPrint.plugins.autofocus.start(options));
        };

        self.cancelRun = function () {
            self._request(OctoPrint.plugins.autofocus.cancel());
        };

        self.setReference = function () {
            self._request(OctoPrint.plugins.autofocus.setReference());
        };

        self.homeByFocus = function () {
            self._request(OctoPrint.plugins.autofocus.home());
        };

        self.jogUp = function () {
            self._jog(1);
        };

        self.jogDown = function () {
            self._jog(-1);
        };

        self.resetRoi = function () {
            self._storeRoi(CENTRE_ROI);
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
            self._setRun(data.run);
            self._setCamera(data.camera || null);
            self._plot();
        };

        // ~~ OctoPrint callbacks
        self.onBeforeBinding = function () {
            self._loadSettings();
            self.liveWanted.subscribe(self._updateLive);
            self.running.subscribe(function (running) {
                if (running) self.scores([]);
            });
            self.scoreWanted.subscribe(function (wanted) {
                if (wanted) self._pollScore();
            });
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
            if (data.type === "state") {
                self.state(data.state);
                self._setRun(data.run);
            } else if (data.type === "progress") {
                self.samples.push([data.z, data.score]);
                self.run(_.extend({}, self.run(), {phase: data.phase}));
            } else if (data.type === "error") {
                self._notifyError(data.message);
            } else if (data.record) {
                if (data.type === "failed") self._notifyError(data.record.message);
                self.last(data.record);
                self.state("idle");
                self.requestData();
            }
            self._plot();
        };

        // ~~ helpers
        // Failures may happen while nobody looks at the tab (@AUTOFOCUS in a job): tell everyone.
        self._notifyError = function (message) {
            new PNotify({
                title: gettext("Autofocus"),
                text: _.escape(message || gettext("Autofocus failed")),
                type: "error",
                hide: false
            });
        };

        self._pluginSetting = function (key) {
            var plugin = self.settingsViewModel.settings.plugins.autofocus;
            return plugin && plugin[key] ? ko.toJS(plugin[key]) : null;
        };

        self._loadSettings = function () {
            var roi = self._pluginSetting("roi");
            self.roi(roi && roi.w > 0 && roi.h > 0 ? roi : CENTRE_ROI);
            var step = parseFloat(self._pluginSetting("jog_step"));
            if (step > 0) self.jogStep(step);
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
            self.scores([]);
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
            var step = parseFloat(self.jogStep());
            if (!(step > 0)) return;
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

        self._setRun = function (run) {
            var previous = self.run();
            self.run(run || null);
            if (run && (!previous || previous.run_id !== run.run_id)) {
                self.samples(run.samples || []);
            }
        };

        self._setCamera = function (camera) {
            var before = JSON.stringify(self.camera());
            if (before === JSON.stringify(camera)) return;
            self.camera(camera);
            self.imageSize(null);
            self.imageError(false);
            self._updateLive();
        };

        // Show the MJPEG stream, or start refreshing snapshots, only while someone looks.
        self._updateLive = function () {
            var camera = self.camera();
            clearTimeout(self._snapshotTimer);
            if (!self.liveWanted() || !camera) {
                self.liveSrc(null);
            } else if (camera.stream_url) {
                self.liveSrc(camera.stream_url);
            } else if (camera.snapshot_url) {
                self.liveSrc(withCacheBuster(camera.snapshot_url));
            } else {
                self.liveSrc(null);
            }
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
            OctoPrint.plugins.autofocus
                .score(self.roi())
                .done(function (reply) {
                    self.scoreError(null);
                    self.scores.push(reply.score);
                    if (self.scores().length > SPARKLINE_LENGTH) self.scores.shift();
                })
                .fail(function (jqXHR) {
                    var reply = jqXHR.responseJSON || {};
                    self.scoreError(reply.error || gettext("No score"));
                })
                .always(function () {
                    self._scoring = false;
                    setTimeout(self._pollScore, SCORE_INTERVAL_MS);
                });
        };

        // Score against Z: the samples as measured, then the fitted curve and the chosen Z.
        self._plot = function () {
            var target = $("#autofocus_plot");
            if (!self.tabActive() || !target.is(":visible")) return;
            var record = self.running() ? null : self.last();
            var samples = record ? record.samples : self.samples();
            var series = [
                {
                    label: gettext("Sharpness"),
                    data: samples,
                    color: "#08c",
                    points: {show: true, radius: 3},
                    lines: {show: false}
                }
            ];
            var markings = [];
            if (record && record.fit) {
                series.push({
                    label: gettext("Fitted curve"),
                    data: fitCurve(record.fit),
                    color: "#f89406",
                    lines: {show: true, lineWidth: 2}
                });
            }
            if (record && samples.length) {
                var chosen = record.ok ? record.z : record.final_z;
                markings.push({
                    xaxis: {from: chosen, to: chosen},
                    color: record.ok ? "#46a546" : "#bd362f",
                    lineWidth: 2
                });
            }
            $.plot(target, series, {
                grid: {borderWidth: 1, borderColor: "#ccc", markings: markings},
                xaxis: {
                    tickFormatter: function (z) {
                        return z.toFixed(2);
                    }
                },
                yaxis: {tickFormatter: function () {
                    return "";
                }},
                legend: {position: "nw", backgroundOpacity: 0.5}
            });
        };
    }

    /*
     * Settings pane (templates/autofocus_settings.jinja2). Number fields carry their limits
     * as attributes (min, max, data-positive, data-integer, data-optional, data-above);
     * the binding `autofocusNumber` checks them as the user types. The server checks again.
     */
    function numberError(element, raw) {
        var data = element.dataset;
        if (raw === "" || raw === null || raw === undefined) {
            return data.optional ? "" : gettext("Enter a number.");
        }
        var value = Number(raw);
        if (isNaN(value) || !isFinite(value)) return gettext("Enter a number.");
        if (data.integer && Math.floor(value) !== value) {
            return gettext("Enter a whole number.");
        }
        if (data.positive && value <= 0) return gettext("Enter a value above 0.");
        if (element.min !== "" && value < Number(element.min)) {
            return _.sprintf(gettext("Enter at least %(min)s."), {min: element.min});
        }
        if (element.max !== "" && value > Number(element.max)) {
            return _.sprintf(gettext("Enter at most %(max)s."), {max: element.max});
        }
        var below = data.above ? document.getElementById(data.above) : null;
        if (below && below.value !== "" && value <= Number(below.value)) {
            return _.sprintf(gettext("Must be above %(value)s."), {value: below.value});
        }
        return "";
    }

    ko.bindingHandlers.autofocusNumber = {
        init: function (element, valueAccessor) {
            var value = valueAccessor();
            var group = $(element).closest(".control-group");
            ko.computed(function () {
                var error = numberError(element, value());
                group.toggleClass("error", error !== "");
                group.find(".help-inline").text(error);
            }, null, {disposeWhenNodeIsRemoved: element});
        }
    };

    function AutofocusSettingsViewModel(parameters) {
        var self = this;

        // ~~ dependencies
        self.settingsViewModel = parameters[0];

        // settingsViewModel.settings, once it exists (see onBeforeBinding)
        self.settings = undefined;

        // ~~ computed
        self.cameraChoices = ko.pureComputed(function () {
            var choices = [{value: "", text: gettext("OctoPrint's default camera")}];
            _.each(self.settingsViewModel.webcam_webcams() || [], function (webcam) {
                choices.push({
                    value: webcam.name,
                    text: webcam.displayName || webcam.name
                });
            });
            choices.push({value: "custom", text: gettext("Custom URLs")});
            return choices;
        });

        self.isCustomCamera = ko.pureComputed(function () {
            return self.settings.plugins.autofocus.camera() === "custom";
        });

        self.simulatorEnabled = ko.pureComputed(function () {
            return !!self.settings.plugins.autofocus.simulator.enabled();
        });

        // ~~ OctoPrint callbacks
        self.onBeforeBinding = function () {
            self.settings = self.settingsViewModel.settings;
        };

        // Numbers go to the server as numbers, an empty optional number as null.
        self.onSettingsBeforeSave = function () {
            $("#settings_plugin_autofocus input[type=number]").each(function () {
                var observable = self._observableOf(this);
                if (!observable || numberError(this, observable()) !== "") return;
                var raw = observable();
                observable(raw === "" || raw === null ? null : Number(raw));
            });
        };

        // ~~ helpers
        self._observableOf = function (element) {
            var node = self.settings.plugins.autofocus;
            _.each(element.dataset.setting.split("."), function (part) {
                node = node ? node[part] : undefined;
            });
            return ko.isObservable(node) ? node : null;
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

    OCTOPRINT_VIEWMODELS.push({
        construct: AutofocusSettingsViewModel,
        dependencies: ["settingsViewModel"],
        elements: ["#settings_plugin_autofocus"]
    });
});
