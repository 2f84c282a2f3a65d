/*
 * OctoPrint-Autofocus tab: jogging Z by hand (templates/autofocus_jog.jinja2, in the tab
 * and in the large view). The step is checked as typed: above 0 and at most the limit the
 * template renders from Python (fields.py); the arrows give the direction.
 */
(function (tab) {
    tab.jog = {
        init: function (self) {
            self._jogMax = Infinity;
            self.jogStep = ko.observable(0.1);

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

            self.jogUpTitle = ko.pureComputed(function () {
                return _.sprintf(gettext("Move Z up by %(step)s mm"), {step: self.jogStepValue() || "-"});
            });

            self.jogDownTitle = ko.pureComputed(function () {
                return _.sprintf(gettext("Move Z down by %(step)s mm"), {step: self.jogStepValue() || "-"});
            });

            self.jogUp = function () {
                self._jog(1);
            };

            self.jogDown = function () {
                self._jog(-1);
            };

            self._jog = function (direction) {
                var step = self.jogStepValue();
                if (step === null) return;
                self._request(OctoPrint.plugins.autofocus.jog(direction * step));
            };
        },

        beforeBinding: function (self) {
            self._jogMax = Number($("#autofocus_jog_step").attr("max"));
        },

        loadSettings: function (self) {
            var step = parseFloat(self._pluginSetting("jog_step"));
            if (step > 0) self.jogStep(step);
        }
    };
})(window.OctoPrintAutofocusTab);
