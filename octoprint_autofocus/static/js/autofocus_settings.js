/*
 * OctoPrint-Autofocus settings pane (templates/autofocus_settings.jinja2).
 *
 * Number fields carry their limits as attributes (min, max, data-positive, data-integer,
 * data-optional, data-above), rendered from fields.BOUNDS; the binding `autofocusNumber`
 * checks them as the user types. While a field is red the dialog's Save is disabled and
 * the footer names the field by its label. A save the server refuses (400 {error, field})
 * keeps the dialog open with every edit, and the message appears at the field.
 */
$(function () {
    var PANE = "#settings_plugin_autofocus";
    var DIALOG = "#settings_dialog";
    var SAVE = DIALOG + ' [data-test-id="settings-save"]';

    // key -> message of the fields that are red in the browser, and of the server's refusal
    var fieldErrors = ko.observable({});
    var serverError = ko.observable(null);

    function setFieldError(key, message) {
        var errors = _.clone(fieldErrors());
        if (message) errors[key] = message;
        else delete errors[key];
        if (!_.isEqual(errors, fieldErrors())) fieldErrors(errors);
    }

    function groupOf(key) {
        return $(PANE + ' .control-group[data-setting="' + key + '"]');
    }

    function labelOf(key) {
        var label = groupOf(key).find(".control-label").first().text().trim();
        return label || key;
    }

    function numberError(element, raw) {
        var data = element.dataset;
        var unit = data.unit ? " " + data.unit : "";
        if (raw === "" || raw === null || raw === undefined) {
            return data.optional ? "" : gettext("Enter a number.");
        }
        var value = Number(raw);
        if (isNaN(value) || !isFinite(value)) return gettext("Enter a number.");
        if (data.integer && Math.floor(value) !== value) {
            return gettext("Enter a whole number.");
        }
        if (data.positive && value <= 0) return _.sprintf(gettext("Enter a value above %(zero)s."), {zero: "0" + unit});
        if (element.min !== "" && value < Number(element.min)) {
            return _.sprintf(gettext("Enter at least %(min)s."), {min: element.min + unit});
        }
        if (element.max !== "" && value > Number(element.max)) {
            return _.sprintf(gettext("Enter at most %(max)s."), {max: element.max + unit});
        }
        var below = data.above ? document.getElementById(data.above) : null;
        if (below && below.value !== "" && value <= Number(below.value)) {
            return _.sprintf(gettext("Must be above %(value)s."), {value: below.value + unit});
        }
        return "";
    }

    // Marks the field's group red with the message while the value breaks its limits.
    ko.bindingHandlers.autofocusNumber = {
        init: function (element, valueAccessor) {
            var value = valueAccessor();
            var key = element.dataset.setting;
            var group = $(element).closest(".control-group");
            var above = element.dataset.above ? document.getElementById(element.dataset.above) : null;
            var aboveValue = ko.observable(above ? above.value : null);
            if (above) {
                $(above).on("input change", function () {
                    aboveValue(above.value);
                });
            }
            ko.computed(
                function () {
                    aboveValue();
                    var error = numberError(element, value());
                    var server = serverError();
                    if (!error && server && server.field === key) error = server.message;
                    group.toggleClass("error", error !== "");
                    group.find(".help-inline").text(error);
                    setFieldError(key, error);
                },
                null,
                {disposeWhenNodeIsRemoved: element}
            );
            ko.utils.domNodeDisposal.addDisposeCallback(element, function () {
                setFieldError(key, "");
            });
        }
    };

    function AutofocusSettingsViewModel(parameters) {
        var self = this;

        // ~~ dependencies
        self.settingsViewModel = parameters[0];

        // settingsViewModel.settings, once it exists (see onBeforeBinding)
        self.settings = undefined;

        // ~~ observables
        self.showAdvanced = ko.observable(false);

        // ~~ computed
        self.cameraChoices = ko.pureComputed(function () {
            var choices = [{value: "", text: gettext("OctoPrint's default camera")}];
            _.each(self.settingsViewModel.webcam_webcams() || [], function (webcam) {
                choices.push({
                    value: webcam.name,
                    text: webcam.displayName || webcam.name
                });
            });
            choices.push({value: "custom", text: gettext("Custom URLs")});
            return choices;
        });

        self.isCustomCamera = ko.pureComputed(function () {
            return self.settings.plugins.autofocus.camera() === "custom";
        });

        self.simulatorEnabled = ko.pureComputed(function () {
            return !!self.settings.plugins.autofocus.simulator.enabled();
        });

        // Labels of the fields that are red now (the browser's checks and the server's refusal).
        self.invalidLabels = ko.pureComputed(function () {
            return _.map(_.keys(fieldErrors()), labelOf);
        });

        self.saveBlocked = ko.pureComputed(function () {
            return self.invalidLabels().length > 0;
        });

        self.blockedText = ko.pureComputed(function () {
            if (!self.saveBlocked()) return "";
            return _.sprintf(gettext("Autofocus: correct %(fields)s to save."), {
                fields: self.invalidLabels().join(", ")
            });
        });

        self.serverErrorText = ko.pureComputed(function () {
            var error = serverError();
            return error ? error.text : "";
        });

        self.toggleAdvanced = function () {
            self.showAdvanced(!self.showAdvanced());
        };

        // ~~ OctoPrint callbacks
        self.onBeforeBinding = function () {
            self.settings = self.settingsViewModel.settings;
            fieldErrors.subscribe(self._openAdvancedOnError);
        };

        self.onStartupComplete = function () {
            self._guardSave();
            $(document).on("ajaxError", self._onAjaxError);
        };

        self.onSettingsShown = function () {
            self._forgetServerError();
        };

        self.onSettingsHidden = function () {
            self._forgetServerError();
        };

        // Numbers go to the server as numbers, an empty optional number as null.
        self.onSettingsBeforeSave = function () {
            self._forgetServerError();
            $(PANE + " input[type=number]").each(function () {
                var observable = self._observableOf(this);
                if (!observable || numberError(this, observable()) !== "") return;
                var raw = observable();
                observable(raw === "" || raw === null ? null : Number(raw));
            });
        };

        // ~~ helpers
        self._observableOf = function (element) {
            var node = self.settings.plugins.autofocus;
            _.each(element.dataset.setting.split("."), function (part) {
                node = node ? node[part] : undefined;
            });
            return ko.isObservable(node) ? node : null;
        };

        self._openAdvancedOnError = function (errors) {
            var hidden = _.some(_.keys(errors), function (key) {
                return groupOf(key).closest(".autofocus-advanced").length > 0;
            });
            if (hidden) self.showAdvanced(true);
        };

        // Save stays disabled while a field is red: OctoPrint's own binding enables it after
        // every exchange, so the block is applied after that, and a click is refused anyway.
        self._guardSave = function () {
            var note = $('<span class="autofocus-save-note text-error"></span>');
            $(SAVE).before(note);
            var apply = function () {
                var blocked = self.saveBlocked();
                note.text(self.blockedText()).toggle(blocked);
                if (blocked) {
                    $(SAVE).prop("disabled", true).addClass("disabled");
                } else if (self._blocking && !self.settingsViewModel.exchanging()) {
                    $(SAVE).prop("disabled", false).removeClass("disabled");
                }
                self._blocking = blocked;
            };
            var later = function () {
                setTimeout(apply, 0);
            };
            self.saveBlocked.subscribe(later);
            self.blockedText.subscribe(later);
            self.settingsViewModel.exchanging.subscribe(later);
            document.addEventListener(
                "click",
                function (event) {
                    if (self.saveBlocked() && $(event.target).closest(SAVE).length) {
                        event.stopImmediatePropagation();
                        event.preventDefault();
                    }
                },
                true
            );
            apply();
        };

        // A settings save the server refused: OctoPrint keeps the dialog open and the edits;
        // show which field and why.
        self._onAjaxError = function (event, jqXHR, options) {
            if (!options || options.type !== "POST" || !/api\/settings$/.test(options.url)) return;
            var reply = jqXHR.responseJSON || {};
            if (!reply.error) return;
            var field = String(reply.field || "").replace(/^plugins\.autofocus\./, "");
            var group = groupOf(field);
            var label = group.length ? labelOf(field) : "";
            var message = reply.error;
            if (label && message.indexOf(label + ": ") === 0) {
                message = message.substring(label.length + 2);
            }
            serverError({field: group.length ? field : null, text: reply.error, message: message});
            if (!group.length) return;
            if (!group.find("input[type=number]").length) {
                // number fields mark themselves (autofocusNumber); others are marked here
                group.addClass("error").find(".help-inline").text(message);
                setFieldError(field, message);
            }
            self._showPane();
            group[0].scrollIntoView({block: "center"});
        };

        self._showPane = function () {
            $(DIALOG + ' a[href="' + PANE + '"]').tab("show");
        };

        self._forgetServerError = function () {
            var error = serverError();
            if (error && error.field) self._unmark(error.field);
            serverError(null);
        };

        // number fields unmark themselves once serverError changes
        self._unmark = function (key) {
            var group = groupOf(key);
            if (group.find("input[type=number]").length) return;
            group.removeClass("error").find(".help-inline").text("");
            setFieldError(key, "");
        };

        // a refused field stays marked until it is edited
        self._clearServerErrorOnEdit = function () {
            $(PANE).on("input change", "input, select, textarea", function () {
                var error = serverError();
                var group = $(this).closest(".control-group");
                var key = group.data("setting");
                if (!error || error.field !== key) return;
                serverError(_.extend({}, error, {field: null}));
                self._unmark(key);
            });
        };

        self.onAfterBinding = self._clearServerErrorOnEdit;
    }

    OCTOPRINT_VIEWMODELS.push({
        construct: AutofocusSettingsViewModel,
        dependencies: ["settingsViewModel"],
        elements: [PANE]
    });
});
