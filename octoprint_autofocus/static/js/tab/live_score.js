/*
 * OctoPrint-Autofocus tab: the live sharpness readout and its sparkline. Polls the
 * server's score of the region (one request at a time, a few a second) while the picture
 * is watched and no run is going; during a run the run's own frames feed it (the
 * `progress` messages, autofocus.js). "% of best" compares with the sharpest value seen
 * since the region or the camera changed.
 */
(function (tab) {
    var finite = tab.format.finite;
    var SCORE_INTERVAL_MS = 300;
    var SCORE_RETRY_MS = 1500;
    var SPARKLINE_LENGTH = 40;

    function formatScore(score) {
        if (!finite(score)) return "-";
        return score >= 1000 ? Math.round(score).toLocaleString() : score.toPrecision(4);
    }

    tab.liveScore = {
        init: function (self) {
            // metric key -> name, rendered from Python (fields.py), read in beforeBinding
            self._metricNames = {};
            self.scores = ko.observableArray([]);
            self.bestScore = ko.observable(null);
            self.scoreError = ko.observable(null);

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

            self.scoreWanted = ko.pureComputed(function () {
                return self.liveWanted() && !self.running() && !!self.camera();
            });

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

            // One score request at a time, a few a second, while the view is watched.
            self._pollScore = function () {
                if (self._scoring || !self.scoreWanted()) return;
                self._scoring = true;
                var delay = SCORE_INTERVAL_MS;
                OctoPrint.plugins.autofocus
                    .score(self.roi())
                    .done(function (reply) {
                        if (!self.scoreWanted()) return; // a run started meanwhile: its frames feed the readout
                        // a slow camera answers with the last picture it delivered, and its age
                        self.scoreError(reply.stale
                            ? _.sprintf(gettext("The camera is slow: this value is from a picture %(age)s s old."),
                                        {age: Number(reply.age).toFixed(1)})
                            : null);
                        self._addScore(reply.score);
                    })
                    .fail(function (jqXHR) {
                        if (!self.scoreWanted()) return;
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
        },

        beforeBinding: function (self) {
            $(tab.TAB_ID + " .autofocus-metric-names [data-metric]").each(function () {
                self._metricNames[this.dataset.metric] = $(this).text();
            });
            self.running.subscribe(function (running) {
                if (running) self._resetScores();
            });
            self.scoreWanted.subscribe(function (wanted) {
                if (wanted) self._pollScore();
            });
        }
    };
})(window.OctoPrintAutofocusTab);
