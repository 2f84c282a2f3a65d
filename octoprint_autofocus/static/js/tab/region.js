/*
 * OctoPrint-Autofocus tab: the region of interest. Dragged on the camera picture with
 * pointer events (mouse, pen and touch alike), drawn over it, saved in the settings
 * (rounded, never past the picture's edge) by those who may change settings.
 */
(function (tab) {
    var MIN_ROI_FRACTION = 0.02;

    function clamp(value, lo, hi) {
        return Math.min(hi, Math.max(lo, value));
    }

    tab.region = {
        init: function (self) {
            // the default region, rendered from Python (fields.py), read in beforeBinding
            self._centreRoi = {x: 0, y: 0, w: 1, h: 1};
            self.roi = ko.observable(self._centreRoi);
            self.draftRoi = ko.observable(null);

            self.canSaveRoi = ko.pureComputed(function () {
                return self.loginState.hasPermission(self.access.permissions.SETTINGS);
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

            self.resetRoi = function () {
                self._storeRoi(self._centreRoi);
            };

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
        },

        beforeBinding: function (self) {
            self._centreRoi = $(tab.TAB_ID + " .autofocus").data("centreRoi") || self._centreRoi;
        },

        loadSettings: function (self) {
            var roi = self._pluginSetting("roi");
            var chosen = roi && roi.w > 0 && roi.h > 0 ? roi : self._centreRoi;
            if (!_.isEqual(chosen, self.roi())) self._resetScores();
            self.roi(chosen);
        }
    };
})(window.OctoPrintAutofocusTab);
