/*
 * OctoPrint-Autofocus: the plot of sharpness against Z (Flot, as OctoPrint ships it).
 *
 * Sharpness is drawn as a percentage of the run's best sample on a fixed 0-100 % axis,
 * so a run without a peak looks flat instead of being stretched into a curve. The
 * searched window and any extension past it are shaded, the start Z and the chosen Z are
 * marked with their values, and the legend sits below the data.
 * Exposed as window.OctoPrintAutofocusPlot = {draw, fitCurve}.
 */
(function (global) {
    var COLORS = {
        points: "#08c",
        curve: "#f89406",
        window: "rgba(0, 136, 204, 0.10)",
        extension: "rgba(248, 148, 6, 0.16)",
        start: "#999",
        focus: "#46a546",
        best: "#bd362f"
    };
    var Y_TICKS = [0, 25, 50, 75, 100];

    // Value of a fitted focus curve at z, or null for a model this page does not know.
    // focus/fit.py fits a parabola y = c2 u^2 + c1 u + c0 (u = z - centre) to 1/score
    // ("lorentzian") or log(score) ("gaussian"); its vertex is at z_peak.
    function fitValue(fit, z) {
        var p = fit.params || {};
        var c2 = p.c2 !== undefined ? p.c2 : p[0];
        var c1 = p.c1 !== undefined ? p.c1 : p[1];
        var c0 = p.c0 !== undefined ? p.c0 : p[2];
        var y = c2 * Math.pow(z - fit.z_peak, 2) + c0 - (c1 * c1) / (4 * c2);
        if (fit.model === "lorentzian") return y > 0 ? 1 / y : null;
        if (fit.model === "gaussian") return Math.exp(y);
        return null;
    }

    // The fitted curve over the samples it used, and at least one peak width either side.
    function fitCurve(fit) {
        if (!fit || fitValue(fit, fit.z_peak) === null) return [];
        var width = (fit.params && fit.params.fwhm) || 0;
        var lo = Math.min(fit.z_lo, fit.z_peak - width);
        var hi = Math.max(fit.z_hi, fit.z_peak + width);
        var points = [];
        var steps = 80;
        for (var i = 0; i <= steps; i++) {
            var z = lo + ((hi - lo) * i) / steps;
            var value = fitValue(fit, z);
            if (value !== null && isFinite(value)) points.push([z, value]);
        }
        return points;
    }

    function finite(value) {
        return typeof value === "number" && isFinite(value);
    }

    function pair(value) {
        return value && value.length === 2 && finite(value[0]) && finite(value[1]) ? value : null;
    }

    function zText(z) {
        return Number(z).toFixed(3);
    }

    // The shaded ranges: the window (first guess) and the parts searched beyond it.
    function ranges(view, samples) {
        var window = pair(view.window);
        var searched = pair(view.searched);
        if (!window) return {window: searched, extension: []};
        var reach = searched ? searched.slice() : window.slice();
        _.each(samples, function (sample) {
            reach[0] = Math.min(reach[0], sample[0]);
            reach[1] = Math.max(reach[1], sample[0]);
        });
        var extension = [];
        if (reach[0] < window[0] - 1e-9) extension.push([reach[0], window[0]]);
        if (reach[1] > window[1] + 1e-9) extension.push([window[1], reach[1]]);
        return {window: window, extension: extension};
    }

    function xRange(view, samples, shaded) {
        var zs = _.map(samples, function (s) {
            return s[0];
        });
        if (shaded.window) zs.push(shaded.window[0], shaded.window[1]);
        _.each(shaded.extension, function (part) {
            zs.push(part[0], part[1]);
        });
        if (finite(view.start)) zs.push(view.start);
        if (finite(view.chosen)) zs.push(view.chosen);
        if (!zs.length) return null;
        var lo = Math.min.apply(null, zs);
        var hi = Math.max.apply(null, zs);
        var pad = Math.max((hi - lo) * 0.03, 0.005);
        return [lo - pad, hi + pad];
    }

    function legendItems(view, shaded, hasCurve) {
        var items = [{kind: "points", color: COLORS.points, text: gettext("Measured")}];
        if (hasCurve) items.push({kind: "line", color: COLORS.curve, text: gettext("Fitted curve")});
        if (shaded.window) {
            items.push({
                kind: "box",
                color: COLORS.window,
                text: view.window ? gettext("Searched window") : gettext("Searched range")
            });
        }
        if (shaded.extension.length) {
            items.push({kind: "box", color: COLORS.extension, text: gettext("Extended search")});
        }
        if (finite(view.start)) items.push({kind: "mark", color: COLORS.start, text: gettext("Start Z")});
        if (finite(view.chosen)) {
            items.push({
                kind: "mark",
                color: view.ok ? COLORS.focus : COLORS.best,
                text: view.ok ? gettext("Focus") : gettext("Best Z found")
            });
        }
        return items;
    }

    function renderLegend(container, items) {
        container.html(
            _.map(items, function (item) {
                return (
                    '<span class="autofocus-legend-item">' +
                    '<span class="autofocus-legend-' + item.kind + '" style="' +
                    (item.kind === "box" ? "background" : "border-color") + ": " + item.color +
                    '"></span>' + _.escape(item.text) + "</span>"
                );
            }).join("")
        );
    }

    // Value labels at the top of the marked Zs; a label that would overlap the one before
    // it drops a line.
    function renderMarks(plot, target, marks) {
        var offset = plot.getPlotOffset();
        var width = plot.width();
        var placed = [];
        _.each(marks, function (mark) {
            var x = plot.pointOffset({x: mark.z, y: 0}).left;
            var label = $('<div class="autofocus-plot-mark"></div>')
                .text(mark.text)
                .css({color: mark.color})
                .attr("data-mark", mark.name)
                .appendTo(target);
            var w = label.outerWidth();
            var left = Math.min(Math.max(x - w / 2, offset.left), offset.left + width - w);
            var row = 0;
            while (_.some(placed, function (p) {
                return p.row === row && left < p.right + 4 && left + w > p.left - 4;
            })) {
                row += 1;
            }
            placed.push({left: left, right: left + w, row: row});
            label.css({left: left + "px", top: offset.top + 2 + row * 16 + "px"});
        });
    }

    /*
     * Draw into `target` (a jQuery element) with the legend in `legend`. `view`:
     *   samples [[z, score]], fit (record.fit) or null, window [lo, hi] or null,
     *   searched [lo, hi] (z_min/z_max of the record) or null, start (Z) or null,
     *   chosen (Z) or null, ok (whether chosen is a focus or only the best found).
     * Returns the Flot plot.
     */
    function draw(target, legend, view) {
        var samples = view.samples || [];
        var best = 0;
        _.each(samples, function (s) {
            best = Math.max(best, s[1]);
        });
        var scale = best > 0 ? 100 / best : 0;
        var percent = function (points) {
            return _.map(points, function (p) {
                return [p[0], p[1] * scale];
            });
        };
        var curve = view.fit && best > 0 ? percent(fitCurve(view.fit)) : [];
        var shaded = ranges(view, samples);
        var xs = xRange(view, samples, shaded);
        var top = 105;
        _.each(curve, function (p) {
            top = Math.max(top, Math.min(p[1] * 1.03, 150));
        });

        var markings = [];
        if (shaded.window) {
            markings.push({xaxis: {from: shaded.window[0], to: shaded.window[1]}, color: COLORS.window});
        }
        _.each(shaded.extension, function (part) {
            markings.push({xaxis: {from: part[0], to: part[1]}, color: COLORS.extension});
        });
        var marks = [];
        if (finite(view.start)) {
            markings.push({xaxis: {from: view.start, to: view.start}, color: COLORS.start, lineWidth: 1});
            marks.push({name: "start", z: view.start, color: COLORS.start,
                        text: _.sprintf(gettext("start %(z)s"), {z: zText(view.start)})});
        }
        if (finite(view.chosen)) {
            var color = view.ok ? COLORS.focus : COLORS.best;
            markings.push({xaxis: {from: view.chosen, to: view.chosen}, color: color, lineWidth: 2});
            marks.push({name: "chosen", z: view.chosen, color: color,
                        text: _.sprintf(view.ok ? gettext("focus %(z)s") : gettext("best %(z)s"),
                                        {z: zText(view.chosen)})});
        }

        var series = [{data: percent(samples), color: COLORS.points, points: {show: true, radius: 3}, lines: {show: false}}];
        if (curve.length) {
            series.unshift({data: curve, color: COLORS.curve, lines: {show: true, lineWidth: 2}, shadowSize: 0});
        }
        var plot = $.plot(target, series, {
            grid: {borderWidth: 1, borderColor: "#ccc", markings: markings, markingsLineWidth: 1},
            xaxis: xs ? {min: xs[0], max: xs[1]} : {},
            yaxis: {
                min: 0,
                max: top,
                ticks: Y_TICKS,
                tickFormatter: function (value) {
                    return String(value);
                }
            },
            legend: {show: false},
            hooks: {
                // also after Flot's own redraw on resize, so the labels follow their lines
                draw: [
                    function (drawn) {
                        target.find(".autofocus-plot-mark").remove();
                        renderMarks(drawn, target, marks);
                    }
                ]
            }
        });
        renderLegend(legend, legendItems(view, shaded, curve.length > 0));
        return plot;
    }

    global.OctoPrintAutofocusPlot = {draw: draw, fitCurve: fitCurve};
})(window);
