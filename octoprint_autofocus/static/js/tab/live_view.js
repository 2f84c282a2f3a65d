/*
 * OctoPrint-Autofocus tab: the camera picture. Shows the MJPEG stream, or refreshes
 * snapshots, only while someone looks at the tab; flips and rotates it as OctoPrint's
 * webcam does; says when there is no camera or the picture does not load.
 */
(function (tab) {
    var SNAPSHOT_INTERVAL_MS = 500;

    function withCacheBuster(url) {
        return url + (url.indexOf("?") >= 0 ? "&" : "?") + "_af=" + Date.now();
    }

    tab.liveView = {
        init: function (self) {
            self.imageSize = ko.observable(null);
            self.imageError = ko.observable(false);
            self.liveSrc = ko.observable(null);

            self.liveWanted = ko.pureComputed(function () {
                return self.tabActive() && self.browserVisible() && self.canSee();
            });

            // Height of the view as a share of its width: the displayed image's aspect.
            self.viewPadding = ko.pureComputed(function () {
                var size = self.displaySize();
                return (100 * (size ? size.height / size.width : 0.75)).toFixed(3) + "%";
            });

            // The picture's size as shown (after a 90 degree rotation), in camera pixels.
            self.displaySize = ko.pureComputed(function () {
                var size = self.imageSize();
                if (!size) return null;
                var rotated = (self.camera() || {}).rotate90;
                return rotated ? {width: size.height, height: size.width} : size;
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

            // Which picture the backend scores and why (e.g. an OctoPi stream found from the snapshot URL).
            self.cameraSourceText = ko.pureComputed(function () {
                var source = (self.camera() || {}).source;
                return source && source.reason ? source.reason : "";
            });

            self.cameraMessage = ko.pureComputed(function () {
                if (!self.camera()) {
                    return gettext(
                        "No camera is selected. Choose one under Settings > Autofocus, or enable the simulated microscope there (Advanced settings)."
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

            // The camera the server names (GET answer): a new one starts afresh.
            self._setCamera = function (camera) {
                var before = JSON.stringify(self.camera());
                if (before === JSON.stringify(camera)) return;
                self.camera(camera);
                self.imageSize(null);
                self.imageError(false);
                self._resetScores();
                self._updateLive();
            };

            self._cameraSrc = function () {
                var camera = self.camera();
                if (!self.liveWanted() || !camera) return null;
                if (camera.stream_url) return camera.stream_url;
                if (camera.snapshot_url) return withCacheBuster(camera.snapshot_url);
                return null;
            };

            // Show the MJPEG stream, or refresh snapshots, only while someone looks; while the
            // large view (large_view.js) is open it has the only stream.
            self._updateLive = function () {
                clearTimeout(self._snapshotTimer);
                var camera = self.camera();
                var largeStreams = self.largeOpen() && camera && camera.stream_url;
                self.liveSrc(largeStreams ? null : self._cameraSrc());
            };

            self._scheduleSnapshot = function () {
                var camera = self.camera();
                if (!camera || camera.stream_url || !camera.snapshot_url) return;
                clearTimeout(self._snapshotTimer);
                self._snapshotTimer = setTimeout(self._updateLive, SNAPSHOT_INTERVAL_MS);
            };
        },

        beforeBinding: function (self) {
            self.liveWanted.subscribe(self._updateLive);
        }
    };
})(window.OctoPrintAutofocusTab);
