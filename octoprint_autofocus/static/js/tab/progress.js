/*
 * OctoPrint-Autofocus tab: a run under way and the plot. The progress lines (positions
 * measured, the search phase, a focus map's point) and the plot of sharpness against Z:
 * the running run's samples, else the last run's record (drawn by autofocus_plot.js).
 */
(function (tab) {
    var formatMm = tab.format.formatMm;

    tab.progress = {
        init: function (self) {
            var phases = {
                starting: gettext("starting"),
                coarse: gettext("coarse search"),
                fine: gettext("fine search"),
                verify: gettext("verifying")
            };

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
                    text += " (" + (phases[run.phase] || run.phase) + ")";
                }
                if (samples.length) {
                    text += ", " + _.sprintf(gettext("last Z %(z)s"), {
                        z: formatMm(samples[samples.length - 1][0])
                    });
                }
                return text;
            });

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
                          chosen: record.ok || self._offersBestZ(record) ? record.z : null,
                          ok: !!record.ok
                      }
                    : {samples: self.samples(), window: run.window || null, start: run.start_z};
                OctoPrintAutofocusPlot.draw(target, $("#autofocus_plot_legend"), view);
            };
        },

        allBound: function (self) {
            $(window).on("resize", _.debounce(self._plot, 200));
        }
    };
})(window.OctoPrintAutofocusTab);
