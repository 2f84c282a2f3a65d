/*
 * OctoPrint-Autofocus: the "Focus map" section of the Autofocus tab
 * (templates/autofocus_map.jinja2). Its own view model, bound to #autofocus_map.
 *
 * The server contract (docs/DESIGN.md "Focus map"): GET /api/plugin/autofocus answers
 * `map` {state, progress, last, defaults}; the SimpleApi command `map` starts one and
 * `cancel` stops it; plugin messages `map_progress`, `map_done` and `map_failed` follow it.
 */
$(function () {
    var TAB_ID = "#tab_plugin_autofocus";
    // Viridis, sampled: dark blue for the lowest point, yellow for the highest.
    var PALETTE = [
        [68, 1, 84],
        [59, 82, 139],
        [33, 145, 140],
        [94, 201, 98],
        [253, 231, 37]
    ];
    var BED_COLOUR = "#eee";
    var AREA_COLOUR = "#999";
    var FAILED_COLOUR = "#bbb";
    var MARGIN_PX = 24;

    function colourAt(t) {
        t = Math.min(1, Math.max(0, isNaN(t) ? 0.5 : t)) * (PALETTE.length - 1);
        var i = Math.min(Math.floor(t), PALETTE.length - 2);
        var f = t - i;
        var rgb = PALETTE[i].map(function (a, k) {
            return Math.round(a + (PALETTE[i + 1][k] - a) * f);
        });
        return "rgb(" + rgb.join(",") + ")";
    }

    // The grid the server will visit (focus/surface.py grid_points): row 0 at the front,
    // X increasing, the next row back the other way.
    function planPoints(rect, rows, cols) {
        var points = [];
        for (var row = 0; row < rows; row++) {
            var y = rows === 1 ? (rect[2] + rect[3]) / 2 : rect[2] + ((rect[3] - rect[2]) * row) / (rows - 1);
            for (var k = 0; k < cols; k++) {
                var col = row % 2 === 0 ? k : cols - 1 - k;
                var x = cols === 1 ? (rect[0] + rect[1]) / 2 : rect[0] + ((rect[1] - rect[0]) * col) / (cols - 1);
                points.push({index: points.length, row: row, col: col, x: x, y: y});
            }
        }
        return points;
    }

    function mm(value, digits) {
        return Number(value).toFixed(digits === undefined ? 3 : digits) + " mm";
    }

    function signedMm(value) {
        var text = mm(Math.abs(value));
        return (value < 0 ? "\u2212" : "+") + text;
    }

    function duration(seconds) {
        seconds = Math.max(0, Math.round(seconds));
        if (seconds < 60) return _.sprintf(gettext("%(s)d s"), {s: seconds});
        return _.sprintf(gettext("%(m)d min %(s)d s"), {m: Math.floor(seconds / 60), s: seconds % 60});
    }

    function texts() {
        return {
            corners: {
                "front left": gettext("front left"),
                "front right": gettext("front right"),
                "back left": gettext("back left"),
                "back right": gettext("back right")
            },
            reasons: {
                too_many_failed: gettext("Too many points failed."),
                cancelled: gettext("The map was cancelled."),
                camera_error: gettext("The camera did not deliver a picture."),
                camera_stalled: gettext("The camera stopped sending pictures."),
                stage_error: gettext("An axis did not move or did not confirm a move."),
                no_peak: gettext("no sharp image found"),
                peak_at_edge: gettext("the focus lies outside the reachable range"),
                low_texture: gettext("too little detail to focus on"),
                poor_fit: gettext("the sharpness readings were too noisy"),
                verify_failed: gettext("the focus could not be confirmed"),
                camera_dark: gettext("the camera's picture was dark")
            }
        };
    }

    function AutofocusMapViewModel(parameters) {
        var self = this;
        self.loginState = parameters[0];
        self.printerState = parameters[1];
        self.access = parameters[2];
        self._texts = texts();

        // ~~ the form
        self.xMin = ko.observable("");
        self.xMax = ko.observable("");
        self.yMin = ko.observable("");
        self.yMax = ko.observable("");
        self.rows = ko.observable(5);
        self.cols = ko.observable(5);
        self.travelMode = ko.observable("lift");
        self.travelValue = ko.observable(1);
        self.defaults = ko.observable(null);

        // ~~ the server's state
        self.anyRunning = ko.observable(false); // a focus run or a map holds the one run slot
        self.progress = ko.observable(null);
        self.points = ko.observableArray([]);
        self.last = ko.observable(null);
        self.requestError = ko.observable(null);
        self.errorField = ko.observable(null);
        self.tooltip = ko.observable(null);
        self.tabActive = ko.observable(false);

        self.canSee = ko.pureComputed(function () {
            return self.loginState.hasPermission(self.access.permissions.STATUS);
        });

        self.canRun = ko.pureComputed(function () {
            var run = self.access.permissions.PLUGIN_AUTOFOCUS_RUN;
            return run !== undefined && self.loginState.hasAllPermissions(run, self.access.permissions.CONTROL);
        });

        self.mapRunning = ko.pureComputed(function () {
            return !!self.progress();
        });

        self.canEdit = ko.pureComputed(function () {
            return self.canRun() && !self.mapRunning();
        });

        self.bed = ko.pureComputed(function () {
            var defaults = self.defaults();
            return defaults ? defaults.bed : null;
        });

        // The rectangle typed in (numbers or NaN).
        self.rect = ko.pureComputed(function () {
            return [self.xMin(), self.xMax(), self.yMin(), self.yMax()].map(function (v) {
                return v === "" || v === null ? NaN : Number(v);
            });
        });

        // Checks the server makes too, so a mistake shows before the request.
        self.inputError = ko.pureComputed(function () {
            var rect = self.rect();
            var bed = self.bed();
            var names = ["x_min", "x_max", "y_min", "y_max"];
            for (var i = 0; i < 4; i++) {
                if (!isFinite(rect[i])) return {field: names[i], text: gettext("Enter the area in mm.")};
                if (bed && (rect[i] < bed[2 * Math.floor(i / 2)] || rect[i] > bed[2 * Math.floor(i / 2) + 1])) {
                    return {
                        field: names[i],
                        text: _.sprintf(gettext("The area must lie on the bed: X %(x0)s to %(x1)s mm, Y %(y0)s to %(y1)s mm."),
                            {x0: bed[0], x1: bed[1], y0: bed[2], y1: bed[3]})
                    };
                }
            }
            if (rect[0] >= rect[1]) return {field: "x_max", text: gettext("X to must be above X from.")};
            if (rect[2] >= rect[3]) return {field: "y_max", text: gettext("Y to must be above Y from.")};
            var grid = [["rows", self.rows()], ["cols", self.cols()]];
            for (var g = 0; g < 2; g++) {
                var n = Number(grid[g][1]);
                if (!(n >= 2 && n <= 15 && Math.floor(n) === n)) {
                    return {field: grid[g][0], text: gettext("Rows and columns must be whole numbers from 2 to 15.")};
                }
            }
            var travel = Number(self.travelValue());
            if (self.travelValue() === "" || !isFinite(travel) || (self.travelMode() === "lift" && travel < 0)) {
                return {field: self.travelMode() === "lift" ? "lift" : "travel_z", text: gettext("Enter the travel height in mm.")};
            }
            return null;
        });

        self.fieldError = function (field) {
            var error = self.inputError();
            return (error && error.field === field) || self.errorField() === field;
        };

        self.blockedReason = ko.pureComputed(function () {
            if (!self.canRun() || self.mapRunning()) return "";
            if (!self.printerState.isOperational()) return gettext("The printer is not connected.");
            if (self.printerState.isBusy()) return gettext("The printer is busy with a job; put @AUTOFOCUS MAP in its G-code instead.");
            if (self.anyRunning()) return gettext("An autofocus run is going.");
            if (!self.defaults()) return gettext("The printer profile has no bed size, so the area cannot be checked.");
            var error = self.inputError();
            return error ? error.text : "";
        });

        self.canStart = ko.pureComputed(function () {
            return self.canRun() && !self.mapRunning() && self.blockedReason() === "";
        });

        self.plannedPoints = ko.pureComputed(function () {
            var rect = self.rect();
            var rows = Number(self.rows());
            var cols = Number(self.cols());
            if (self.inputError() || !(rows >= 2 && cols >= 2)) return [];
            return planPoints(rect, rows, cols);
        });

        self.planText = ko.pureComputed(function () {
            var count = self.plannedPoints().length;
            if (!count || self.mapRunning()) return "";
            var rect = self.rect();
            return _.sprintf(gettext("%(count)d points, %(dx)s apart in X and %(dy)s in Y, visited row by row."), {
                count: count,
                dx: mm((rect[1] - rect[0]) / (Number(self.cols()) - 1), 1),
                dy: mm((rect[3] - rect[2]) / (Number(self.rows()) - 1), 1)
            });
        });

        self.startTitle = gettext(
            "Focus at every point of the grid, lifting Z before each move, and draw the heights as a map."
        );

        self.progressPercent = ko.pureComputed(function () {
            var progress = self.progress();
            return progress && progress.total ? (100 * progress.done) / progress.total + "%" : "0%";
        });

        self.progressText = ko.pureComputed(function () {
            var progress = self.progress();
            if (!progress) return "";
            var current = Math.min(progress.done + 1, progress.total);
            var text = _.sprintf(gettext("Point %(n)d of %(total)d"), {n: current, total: progress.total});
            if (progress.done === 0) {
                text += ", " + gettext("focusing the first point (a full autofocus)");
            } else if (progress.remaining !== null && progress.remaining !== undefined) {
                text += ", " + _.sprintf(gettext("about %(time)s left"), {time: duration(progress.remaining)});
            }
            return text;
        });

        // What the heat map shows: the running map's points, else the last map's.
        self.shown = ko.pureComputed(function () {
            var progress = self.progress();
            if (progress) {
                return {rect: progress.rectangle, bed: progress.bed, points: self.points(), rows: progress.rows,
                        cols: progress.cols, planned: planPoints(progress.rectangle, progress.rows, progress.cols)};
            }
            var last = self.last();
            if (last && last.map && last.points && last.points.length) {
                return {rect: last.map.rectangle, bed: last.map.bed, points: last.points, rows: last.map.rows,
                        cols: last.map.cols, planned: planPoints(last.map.rectangle, last.map.rows, last.map.cols)};
            }
            return null;
        });

        // Heights relative to the mean of the measured points (what the colours show).
        self.heights = ko.pureComputed(function () {
            var shown = self.shown();
            var measured = shown ? shown.points.filter(function (p) { return p.ok && p.z !== null; }) : [];
            if (!measured.length) return null;
            var mean = measured.reduce(function (sum, p) { return sum + p.z; }, 0) / measured.length;
            var rel = measured.map(function (p) { return p.z - mean; });
            return {mean: mean, low: Math.min.apply(null, rel), high: Math.max.apply(null, rel)};
        });

        self.legend = ko.pureComputed(function () {
            var heights = self.heights();
            if (!heights) return null;
            return {low: signedMm(heights.low), high: signedMm(heights.high)};
        });

        self.legendGradient = "linear-gradient(to right, " + PALETTE.map(function (c) {
            return "rgb(" + c.join(",") + ")";
        }).join(", ") + ")";

        self.tooltipStyle = ko.pureComputed(function () {
            var tip = self.tooltip();
            return tip
                ? {left: tip.left + "px", top: tip.top + "px", transform: tip.right ? "translateX(-100%)" : "none"}
                : {};
        });

        self.result = ko.pureComputed(function () {
            var record = self.last();
            if (!record || self.mapRunning()) return null;
            var summary = record.summary || {};
            var reason = record.reason || "";
            var result = {
                ok: !!record.ok,
                cancelled: reason === "cancelled",
                title: record.ok ? gettext("Map done.") : self._texts.reasons[reason] || gettext("The map stopped."),
                message: self._outcome(record),
                tiltText: "",
                cornerText: "",
                figuresText: "",
                csvUrl: self._recordUrl(record.run_id, "csv"),
                jsonUrl: self._recordUrl(record.run_id, "json")
            };
            if (summary.tilt_x !== null && summary.tilt_x !== undefined) {
                result.tiltText = _.sprintf(
                    gettext("Tilt of the best-fit plane: %(x)s per 100 mm along X, %(y)s per 100 mm along Y."),
                    {x: signedMm(summary.tilt_x), y: signedMm(summary.tilt_y)}
                );
                result.cornerText = _.sprintf(
                    gettext("The %(high)s corner is %(by)s higher than the %(low)s corner."),
                    {
                        high: self._texts.corners[summary.high_corner] || summary.high_corner,
                        low: self._texts.corners[summary.low_corner] || summary.low_corner,
                        by: mm(summary.high_by)
                    }
                );
            }
            if (summary.measured) {
                result.figuresText = _.sprintf(
                    gettext("%(measured)d of %(points)d points measured in %(time)s. Range %(range)s (Z %(min)s to %(max)s)"),
                    {
                        measured: summary.measured,
                        points: summary.points,
                        time: duration(record.elapsed || 0),
                        range: mm(summary.range),
                        min: Number(summary.min).toFixed(3),
                        max: Number(summary.max).toFixed(3)
                    }
                ) + (summary.rms !== null && summary.rms !== undefined
                    ? _.sprintf(gettext(", %(rms)s RMS from the plane."), {rms: mm(summary.rms)})
                    : ".");
                if (summary.failed) {
                    result.figuresText += " " + _.sprintf(gettext("%(failed)d failed (marked with a cross)."),
                        {failed: summary.failed});
                }
            }
            return result;
        });

        // ~~ actions
        self.useDefaultArea = function () {
            var defaults = self.defaults();
            if (!defaults) return;
            var rect = defaults.rectangle;
            self.xMin(rect[0]);
            self.xMax(rect[1]);
            self.yMin(rect[2]);
            self.yMax(rect[3]);
        };

        self.startMap = function () {
            if (!self.canStart()) return;
            var rect = self.rect();
            var payload = {x_min: rect[0], x_max: rect[1], y_min: rect[2], y_max: rect[3],
                           rows: Number(self.rows()), cols: Number(self.cols())};
            payload[self.travelMode() === "lift" ? "lift" : "travel_z"] = Number(self.travelValue());
            self.requestError(null);
            self.errorField(null);
            OctoPrint.simpleApiCommand("autofocus", "map", payload)
                .done(function (reply) {
                    self._begin({run_id: reply.run_id, done: 0, total: self.plannedPoints().length,
                                 rows: payload.rows, cols: payload.cols, bed: self.bed(), remaining: null,
                                 rectangle: [payload.x_min, payload.x_max, payload.y_min, payload.y_max]});
                })
                .fail(self._showFailure);
        };

        self.cancelMap = function () {
            OctoPrint.simpleApiCommand("autofocus", "cancel", {}).fail(self._showFailure);
        };

        // ~~ the heat map
        self.onHover = function (data, event) {
            var hit = self._pointAt(event);
            if (!hit) {
                self.tooltip(null);
                return true;
            }
            var p = hit.point;
            var where = _.sprintf(gettext("X %(x)s, Y %(y)s"), {x: p.x.toFixed(1), y: p.y.toFixed(1)});
            var text;
            if (!hit.measured) {
                text = where + ": " + gettext("not measured yet");
            } else if (!p.ok) {
                text = where + ": " + gettext("failed") + " (" + (self._texts.reasons[p.reason] || p.reason) + ")";
            } else {
                text = where + ": Z " + mm(p.z) + " (" + signedMm(p.z - self.heights().mean) + ")";
            }
            var box = event.currentTarget.getBoundingClientRect();
            var x = event.clientX - box.left;
            // right of the pointer in the left half, left of it in the right half: always inside
            self.tooltip({text: text, left: x < box.width / 2 ? x + 12 : x - 12, right: x >= box.width / 2,
                          top: event.clientY - box.top + 12});
            return true;
        };

        self.onLeave = function () {
            self.tooltip(null);
        };

        self._layout = function (canvas, bed) {
            var width = canvas.parentNode.clientWidth || 300;
            var spanX = bed[1] - bed[0];
            var spanY = bed[3] - bed[2];
            var scale = Math.min((width - 2 * MARGIN_PX) / spanX, 360 / spanY);
            return {
                width: width,
                height: Math.ceil(spanY * scale + 2 * MARGIN_PX),
                scale: scale,
                // Y grows towards the back of the bed, drawn at the top
                px: function (x) { return MARGIN_PX + (x - bed[0]) * scale; },
                py: function (y) { return MARGIN_PX + (bed[3] - y) * scale; }
            };
        };

        self.draw = function () {
            var canvas = document.getElementById("autofocus_map_canvas");
            if (!canvas || !self.tabActive() || !$(canvas).is(":visible")) return;
            var shown = self.shown();
            var bed = (shown && shown.bed) || self.bed();
            if (!bed) return;
            var layout = self._layout(canvas, bed);
            var ratio = window.devicePixelRatio || 1;
            canvas.width = layout.width * ratio;
            canvas.height = layout.height * ratio;
            canvas.style.height = layout.height + "px";
            var ctx = canvas.getContext("2d");
            ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
            ctx.clearRect(0, 0, layout.width, layout.height);
            ctx.fillStyle = BED_COLOUR;
            ctx.fillRect(layout.px(bed[0]), layout.py(bed[3]), (bed[1] - bed[0]) * layout.scale, (bed[3] - bed[2]) * layout.scale);
            ctx.fillStyle = "#777";
            ctx.font = "11px sans-serif";
            ctx.textAlign = "center";
            ctx.fillText(gettext("back"), layout.width / 2, MARGIN_PX - 8);
            ctx.fillText(gettext("front"), layout.width / 2, layout.height - 8);
            // the corners' coordinates, so the drawing reads as the printer's X and Y
            ctx.textAlign = "left";
            ctx.fillText("X" + bed[0] + " Y" + bed[2], layout.px(bed[0]), layout.height - 8);
            ctx.textAlign = "right";
            ctx.fillText("X" + bed[1] + " Y" + bed[3], layout.px(bed[1]), MARGIN_PX - 8);
            self._lastLayout = layout;
            if (shown) {
                self._drawMap(ctx, layout, shown);
            } else {
                self._drawPlan(ctx, layout, self.rect(), self.plannedPoints());
            }
        };

        self._drawPlan = function (ctx, layout, rect, points) {
            if (!points.length) return;
            ctx.strokeStyle = AREA_COLOUR;
            ctx.setLineDash([4, 3]);
            ctx.strokeRect(layout.px(rect[0]), layout.py(rect[3]), (rect[1] - rect[0]) * layout.scale,
                (rect[3] - rect[2]) * layout.scale);
            ctx.setLineDash([]);
            ctx.fillStyle = "#08c";
            points.forEach(function (p) {
                ctx.beginPath();
                ctx.arc(layout.px(p.x), layout.py(p.y), 3, 0, 2 * Math.PI);
                ctx.fill();
            });
        };

        // One cell per point, filled by its height; failed cells grey with a cross.
        self._drawMap = function (ctx, layout, shown) {
            var rect = shown.rect;
            var cellW = ((rect[1] - rect[0]) / Math.max(shown.cols - 1, 1)) * layout.scale;
            var cellH = ((rect[3] - rect[2]) / Math.max(shown.rows - 1, 1)) * layout.scale;
            var heights = self.heights();
            var span = heights ? heights.high - heights.low : 0;
            var measured = {};
            shown.points.forEach(function (p) { measured[p.index] = p; });
            self._drawPlan(ctx, layout, rect, shown.planned);
            ctx.save();  // cells stop at the edge of the area
            ctx.beginPath();
            ctx.rect(layout.px(rect[0]), layout.py(rect[3]), (rect[1] - rect[0]) * layout.scale,
                (rect[3] - rect[2]) * layout.scale);
            ctx.clip();
            shown.planned.forEach(function (planned) {
                var p = measured[planned.index];
                if (!p) return;
                var x = layout.px(p.x) - cellW / 2;
                var y = layout.py(p.y) - cellH / 2;
                if (p.ok && heights) {
                    ctx.fillStyle = colourAt(span > 0 ? (p.z - heights.mean - heights.low) / span : 0.5);
                    ctx.fillRect(x, y, cellW, cellH);
                } else {
                    ctx.fillStyle = FAILED_COLOUR;
                    ctx.fillRect(x, y, cellW, cellH);
                }
            });
            var progress = self.progress();
            var next = progress ? shown.planned[progress.done] : null;
            if (next) {  // the point being measured now
                ctx.strokeStyle = "#f89406";
                ctx.lineWidth = 3;
                ctx.strokeRect(layout.px(next.x) - cellW / 2, layout.py(next.y) - cellH / 2, cellW, cellH);
                ctx.lineWidth = 1;
            }
            ctx.restore();
            // failed points: a cross on the point itself (also where its cell is cut by the edge)
            var r = Math.min(cellW, cellH, 4 * MARGIN_PX) / 5;
            ctx.strokeStyle = "#b94a48";
            ctx.lineWidth = 2;
            shown.points.forEach(function (p) {
                if (p.ok) return;
                ctx.beginPath();
                ctx.moveTo(layout.px(p.x) - r, layout.py(p.y) - r);
                ctx.lineTo(layout.px(p.x) + r, layout.py(p.y) + r);
                ctx.moveTo(layout.px(p.x) + r, layout.py(p.y) - r);
                ctx.lineTo(layout.px(p.x) - r, layout.py(p.y) + r);
                ctx.stroke();
            });
            ctx.lineWidth = 1;
        };

        self._pointAt = function (event) {
            var shown = self.shown();
            var layout = self._lastLayout;
            if (!shown || !layout) return null;
            var box = event.currentTarget.getBoundingClientRect();
            var mx = event.clientX - box.left;
            var my = event.clientY - box.top;
            var rect = shown.rect;
            var halfW = ((rect[1] - rect[0]) / Math.max(shown.cols - 1, 1)) * layout.scale / 2;
            var halfH = ((rect[3] - rect[2]) / Math.max(shown.rows - 1, 1)) * layout.scale / 2;
            var measured = {};
            shown.points.forEach(function (p) { measured[p.index] = p; });
            for (var i = 0; i < shown.planned.length; i++) {
                var planned = shown.planned[i];
                var inside = mx >= layout.px(rect[0]) && mx <= layout.px(rect[1]) &&
                    my >= layout.py(rect[3]) && my <= layout.py(rect[2]);
                if (inside && Math.abs(layout.px(planned.x) - mx) <= halfW && Math.abs(layout.py(planned.y) - my) <= halfH) {
                    var p = measured[planned.index];
                    return {point: p || planned, measured: !!p};
                }
            }
            return null;
        };

        // ~~ data
        self.fromResponse = function (data) {
            self.anyRunning(data.state === "running");
            var map = data.map || {};
            if (map.defaults) {
                // new defaults (settings saved, another printer profile) refill a form left as it was
                var untouched = !self.defaults() || _.isEqual(self._formValues(), self._formValues(self.defaults()));
                self.defaults(map.defaults);
                if (untouched) self._fillForm(map.defaults);
            }
            self.last(map.last || null);
            if (map.progress) {
                self._begin(map.progress);
                self.points(map.progress.points || []);
            } else {
                self.progress(null);
            }
            self.draw();
        };

        self.requestData = function () {
            if (!self.canSee()) return;
            OctoPrint.simpleApiGet("autofocus").done(self.fromResponse);
        };

        // ~~ OctoPrint callbacks
        self.onBeforeBinding = function () {
            ko.computed(function () {
                self.shown();
                self.plannedPoints();
                self.tabActive();
                self.progress();
                _.defer(self.draw);
            });
            $(window).on("resize", _.debounce(self.draw, 100));
            _.each([self.xMin, self.xMax, self.yMin, self.yMax, self.rows, self.cols, self.travelMode,
                    self.travelValue], function (observable) {
                observable.subscribe(function () {
                    self.errorField(null);
                    self.requestError(null);
                });
            });
        };

        self.onStartupComplete = function () {
            self.tabActive(OctoPrint.coreui.selectedTab === TAB_ID);
            self.requestData();
        };

        self.onUserLoggedIn = self.requestData;
        self.onEventSettingsUpdated = self.requestData;
        self.onEventPrinterProfileModified = self.requestData;

        self.onTabChange = function (current) {
            self.tabActive(current === TAB_ID);
        };

        self.onAfterTabChange = function () {
            self.draw();
        };

        self.onDataUpdaterPluginMessage = function (plugin, data) {
            if (plugin !== "autofocus" || !data) return;
            if (data.type === "state") {
                self.anyRunning(data.state === "running");
            } else if (data.type === "map_progress") {
                var progress = self.progress();
                if (!progress || progress.run_id !== data.run_id) {
                    self._begin(data);
                } else {
                    self.progress(_.extend({}, progress, _.omit(data, "point")));
                }
                if (data.point && !_.findWhere(self.points(), {index: data.point.index})) {
                    self.points.push(data.point);
                }
            } else if (data.type === "map_done" || data.type === "map_failed") {
                self.progress(null);
                self.last(data.map);
                // told once: in the result box while someone watches the tab, else a toast that stays
                if (data.type === "map_failed" && data.map.reason !== "cancelled" && !self._watching()) {
                    new PNotify({
                        title: gettext("Focus map"),
                        text: _.escape((self._texts.reasons[data.map.reason] || "") + " " + self._outcome(data.map)),
                        type: "error",
                        hide: false
                    });
                }
            }
        };

        // ~~ helpers
        // What came of a map, in the page's language from the record's numbers (the record's
        // own message is English, for the log and the download); a cancel's reason and a
        // device's own words are shown as they came.
        self._outcome = function (record) {
            var summary = record.summary || {};
            var counts = {measured: summary.measured || 0, points: summary.points || 0, failed: summary.failed || 0,
                          share: Math.round(100 * ((record.map || {}).max_failed || 0))};
            if (record.ok) {
                var text = _.sprintf(gettext("Measured %(measured)d of %(points)d points."), counts);
                return counts.failed
                    ? text + " " + _.sprintf(ngettext("%(failed)d could not be focused.", "%(failed)d could not be focused.", counts.failed), counts)
                    : text;
            }
            if (record.reason === "too_many_failed") {
                return _.sprintf(gettext("Stopped: %(failed)d of %(points)d points could not be focused, more than the %(share)d %% allowed."), counts);
            }
            var said = String(record.message || "").trim();
            if (record.reason === "cancelled") {
                if (!said || said === "cancelled" || said === gettext("cancelled")) return "";
                return said.charAt(0).toUpperCase() + said.slice(1) + (/[.!?]$/.test(said) ? "" : ".");
            }
            return said ? _.sprintf(gettext("Details: %(message)s"), {message: said}) : "";
        };

        self._watching = function () {
            return self.tabActive() && document.visibilityState !== "hidden";
        };

        self._begin = function (progress) {
            var current = self.progress();
            if (!current || current.run_id !== progress.run_id) self.points([]);
            self.progress(_.omit(progress, "point", "points"));
        };

        self._fillForm = function (defaults) {
            self.useDefaultArea();
            self.rows(defaults.rows);
            self.cols(defaults.cols);
            if (defaults.travel_z !== null && defaults.travel_z !== undefined) {
                self.travelMode("z");
                self.travelValue(defaults.travel_z);
            } else {
                self.travelMode("lift");
                self.travelValue(defaults.lift);
            }
        };

        // The form as numbers, or what the form would hold for ``defaults``.
        self._formValues = function (defaults) {
            if (defaults) {
                var lifted = defaults.travel_z === null || defaults.travel_z === undefined;
                return defaults.rectangle.concat([defaults.rows, defaults.cols, lifted ? "lift" : "z",
                    lifted ? defaults.lift : defaults.travel_z]);
            }
            return self.rect().concat([Number(self.rows()), Number(self.cols()), self.travelMode(),
                Number(self.travelValue())]);
        };

        self._showFailure = function (jqXHR) {
            var reply = jqXHR.responseJSON || {};
            self.requestError(reply.error || jqXHR.statusText || gettext("The request failed."));
            self.errorField(reply.field || null);
        };

        self._recordUrl = function (runId, extension) {
            return OctoPrint.getBlueprintUrl("autofocus") + "records/" + encodeURIComponent(runId) + "." + extension;
        };
    }

    OCTOPRINT_VIEWMODELS.push({
        construct: AutofocusMapViewModel,
        dependencies: ["loginStateViewModel", "printerStateViewModel", "accessViewModel"],
        elements: ["#autofocus_map"]
    });
});
