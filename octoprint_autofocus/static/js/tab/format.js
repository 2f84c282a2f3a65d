/*
 * OctoPrint-Autofocus tab: the namespace its scripts share, window.OctoPrintAutofocusTab
 * (each part of the tab's view model adds itself to it; static/js/autofocus.js puts them
 * together), and the formatting the parts have in common. Loaded before the parts.
 */
(function (global) {
    function finite(value) {
        return typeof value === "number" && isFinite(value);
    }

    function formatMm(value) {
        return finite(value) ? Number(value).toFixed(3) + " mm" : "-";
    }

    function signedMm(value) {
        return finite(value) ? (value > 0 ? "+" : "") + formatMm(value) : "-";
    }

    // A kind of run (a record's `kind`) by name, in the page's language.
    function kindName(kind) {
        var names = {
            focus: gettext("Autofocus"),
            reference: gettext("Set reference"),
            home: gettext("Home Z"),
            map: gettext("Focus map")
        };
        return names[kind] || kind;
    }

    global.OctoPrintAutofocusTab = {
        TAB_ID: "#tab_plugin_autofocus",
        format: {finite: finite, formatMm: formatMm, signedMm: signedMm, kindName: kindName}
    };
})(window);
