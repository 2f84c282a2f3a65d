/*
 * OctoPrint-Autofocus tab: the "Recent runs" table. Five rows, expandable to all the
 * server keeps; each row says when (one line; the full date as its title), what kind (a
 * focus map names its grid), the verdict, the focused Z and a link to the record.
 */
(function (tab) {
    var format = tab.format;
    var HISTORY_SHORT = 5;

    // A run's start time, short enough for one line: the time today, else date and time.
    function shortDate(started) {
        var when = moment.unix(started);
        return when.isSame(moment(), "day") ? when.format("LT") : when.format("l LT");
    }

    function historyRow(entry) {
        var map = entry.kind === "map";
        var plan = entry.map || entry;
        var grid = plan.rows && plan.cols ? plan.rows + "\u00d7" + plan.cols : "";
        return {
            when: entry.started ? shortDate(entry.started) : "-",
            whenFull: entry.started ? formatDate(entry.started, {seconds: true}) : "",
            kind: map && grid
                ? _.sprintf(gettext("Focus map %(grid)s"), {grid: grid})
                : format.kindName(entry.kind),
            ok: !!entry.ok,
            verdict: entry.ok
                ? map ? gettext("measured") : gettext("focused")
                : entry.reason === "cancelled"
                  ? gettext("cancelled")
                  : gettext("failed"),
            message: entry.ok ? "" : entry.message || "",
            z: entry.ok && !map ? format.formatMm(entry.z) : "-",
            downloadUrl: OctoPrint.plugins.autofocus.recordUrl(entry.run_id)
        };
    }

    tab.history = {
        init: function (self) {
            self.historyExpanded = ko.observable(false);
            self.historyShort = HISTORY_SHORT;

            self.historyRows = ko.pureComputed(function () {
                return self.history().map(historyRow);
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

            self.toggleHistory = function () {
                self.historyExpanded(!self.historyExpanded());
            };
        }
    };
})(window.OctoPrintAutofocusTab);
