(function (global, factory) {
    if (typeof define === "function" && define.amd) {
        define(["OctoPrintClient"], factory);
    } else {
        factory(global.OctoPrintClient);
    }
})(this, function (OctoPrintClient) {
    // OctoPrint.plugins.autofocus: the plugin's REST API (see docs/DESIGN.md "Plugin contract").
    var PLUGIN = "autofocus";

    var OctoPrintAutofocusClient = function (base) {
        this.base = base;
    };

    OctoPrintAutofocusClient.prototype._command = function (command, data, opts) {
        return this.base.simpleApiCommand(PLUGIN, command, data || {}, opts);
    };

    // State: idle/running, the current run, the last record, history, reference Z, camera.
    OctoPrintAutofocusClient.prototype.get = function (opts) {
        return this.base.simpleApiGet(PLUGIN, opts);
    };

    // Start a run; options: range | z_min, z_max | metric | roi ({x, y, w, h} fractions).
    OctoPrintAutofocusClient.prototype.start = function (options, opts) {
        return this._command("start", options, opts);
    };

    OctoPrintAutofocusClient.prototype.cancel = function (opts) {
        return this._command("cancel", {}, opts);
    };

    // One sharpness score of the ROI in the current camera frame.
    OctoPrintAutofocusClient.prototype.score = function (roi, metric, opts) {
        var data = {};
        if (roi) data.roi = roi;
        if (metric) data.metric = metric;
        return this._command("score", data, opts);
    };

    // With a Z: store it as the focus reference; without: focus, then store the focused Z.
    OctoPrintAutofocusClient.prototype.setReference = function (z, opts) {
        var data = {};
        if (z !== undefined && z !== null) data.z = z;
        return this._command("set_reference", data, opts);
    };

    // Focus, then set Z to the reference with G92 if the run passed; with confirm, also when
    // that shifts Z by more than the max_correction setting.
    OctoPrintAutofocusClient.prototype.home = function (confirm, opts) {
        return this._command("home", confirm ? {confirm: true} : {}, opts);
    };

    // Relative Z move in mm, within the configured limits.
    OctoPrintAutofocusClient.prototype.jog = function (dz, opts) {
        return this._command("jog", {dz: dz}, opts);
    };

    // Absolute move to z in mm, within the configured limits (e.g. a failed run's best Z).
    OctoPrintAutofocusClient.prototype.move = function (z, opts) {
        return this._command("move", {z: z}, opts);
    };

    // Where the JSON record of a run can be downloaded.
    OctoPrintAutofocusClient.prototype.recordUrl = function (runId) {
        return (
            this.base.getBlueprintUrl(PLUGIN) +
            "records/" +
            encodeURIComponent(runId) +
            ".json"
        );
    };

    OctoPrintClient.registerPluginComponent(PLUGIN, OctoPrintAutofocusClient);
    return OctoPrintAutofocusClient;
});
