/*
 * OctoPrint-Autofocus tab: the large view (a Bootstrap modal) for focusing by hand: the
 * region at one camera pixel per CSS pixel, with the live score, the current Z and the
 * jog beside it. A stream goes to the large view alone while it is open (live_view.js);
 * snapshots are shared with the tab's picture.
 */
(function (tab) {
    var MODAL = "#autofocus_large_view";

    tab.largeView = {
        init: function (self) {
            self.largeOpen = ko.observable(false);

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

            self.openLargeView = function () {
                $(MODAL).modal("show");
            };
        },

        beforeBinding: function (self) {
            self.largeOpen.subscribe(self._updateLive);
        },

        allBound: function (self) {
            // Bootstrap modals belong to the body (the tab's stacking would put it under the backdrop).
            $(MODAL)
                .appendTo("body")
                .on("show", function () {
                    self.largeOpen(true);
                })
                .on("hidden", function () {
                    self.largeOpen(false);
                });
        }
    };
})(window.OctoPrintAutofocusTab);
