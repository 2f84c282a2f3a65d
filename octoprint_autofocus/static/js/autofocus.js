/*
 * OctoPrint-Autofocus: the Autofocus tab's view model (templates/autofocus_tab.jinja2).
 *
 * This file holds what the server tells (run state, samples, the last record, recent runs,
 * the reference Z, the camera, the current Z), who may do what, starting and cancelling a
 * run, and OctoPrint's callbacks. The tab's parts (static/js/tab/, listed in PARTS) add
 * their observables and actions to this one view model, so the template binds them all
 * alike; a part is {init(self)} with optional beforeBinding, allBound and loadSettings
 * (the plugin's settings were loaded or saved), called in the order of PARTS.
 * The REST client is OctoPrint.plugins.autofocus (static/clientjs/autofocus.js), the plot
 * OctoPrintAutofocusPlot (static/js/autofocus_plot.js); the settings pane and the focus map
 * have view models of their own (autofocus_settings.js, autofocus_map.js).
 */
$(function () {
    var tab = window.OctoPrintAutofocusTab;
    var TAB_ID = tab.TAB_ID;
    var TOAST_MS = 6000;
    var PARTS = [
        tab.liveView,
        tab.region,
        tab.liveScore,
        tab.largeView,
        tab.position,
        tab.jog,
        tab.reference,
        tab.progress,
        tab.outcome,
        tab.recovery,
        tab.history
    ];

    function eachPart(hook, self) {
        PARTS.forEach(function (part) {
            if (part[hook]) part[hook](self);
        });
    }

    function AutofocusViewModel(parameters) {
        var self = this;

        // ~~ dependencies
        self.loginState = parameters[0];
        self.settingsViewModel = parameters[1];
        self.printerState = parameters[2];
        self.access = parameters[3];

        // ~~ what the server tells
        self.state = ko.observable("idle");
        self.run = ko.observable(null);
        self.samples = ko.observableArray([]);
        self.last = ko.observable(null);
        self.history = ko.observableArray([]);
        self.referenceZ = ko.observable(null);
        self.camera = ko.observable(null);
        self.position = ko.observable({z: null, state: "unknown"});
        self.requestError = ko.observable(null);
        self.tabActive = ko.observable(false);
        self.browserVisible = ko.observable(document.visibilityState !== "hidden");

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

        self.cancelTitle = ko.pureComputed(function () {
            return self.mapRunning()
                ? gettext("Stop the focus map at once: Z is lifted to the travel height and nothing more is sent.")
                : gettext("Stop the focus run at once. No further focus moves are sent.");
        });

        self.cancelText = ko.pureComputed(function () {
            return self.mapRunning() ? gettext("Cancel map") : gettext("Cancel");
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

        // ~~ the parts of the tab
        eachPart("init", self);

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
            eachPart("beforeBinding", self);
            self._loadSettings();
        };

        self.onAllBound = function () {
            eachPart("allBound", self);
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
            self._confirmPendingReference(record);
        };

        // The record the result box and the plot show: the last run, unless it is a map.
        self._plottedRecord = function () {
            var record = self.last();
            return record && record.kind !== "map" && record.samples ? record : null;
        };

        self._start = function (options) {
            self._pendingReference = null; // a new run replaces any reference run (reference.js)
            return self._request(OctoPrint.plugins.autofocus.start(_.extend({roi: self.roi()}, options)));
        };

        self._pluginSetting = function (key) {
            var plugin = self.settingsViewModel.settings.plugins.autofocus;
            return plugin && plugin[key] ? ko.toJS(plugin[key]) : null;
        };

        self._loadSettings = function () {
            eachPart("loadSettings", self);
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
