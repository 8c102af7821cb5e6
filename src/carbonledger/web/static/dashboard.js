// carbonledger dashboard: draws the charts a page carries as JSON blocks, and redraws a
// running run's charts every few seconds. Loaded as a file (the pages' Content-Security-
// Policy allows no inline script).
"use strict";
(function () {
  const NARROW_PX = 600;

  const templateBlock = document.getElementById("chart-template");
  const template = templateBlock ? JSON.parse(templateBlock.textContent) : undefined;

  function narrow() {
    return window.innerWidth < NARROW_PX;
  }

  // A phone: no toolbar over the title, the legend above the plot (below it, it would
  // cover rotated tick labels), and a bar per run named on touch rather than under the axis.
  function fitLayout(figure) {
    const out = Object.assign({}, figure.layout || {}, { autosize: true });
    if (!out.template && template) out.template = template;
    delete out.width;
    if (!narrow()) return out;
    const legend = out.showlegend !== false && (figure.data || []).length > 1;
    out.margin = { l: 48, r: 8, t: legend ? 84 : 44, b: 40 };
    const title = typeof out.title === "string" ? { text: out.title } : Object.assign({}, out.title);
    title.font = Object.assign({}, title.font, { size: 12 });
    Object.assign(title, { x: 0, xanchor: "left", xref: "container", y: 0.99, yanchor: "top", yref: "container" });
    out.title = title;
    if (legend) out.legend = { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" };
    const xaxis = Object.assign({}, out.xaxis);
    if (xaxis.type === "category" && (xaxis.categoryarray || []).length > 8) {
      xaxis.showticklabels = false;
      xaxis.title = { text: "runs, oldest first (touch a bar for its name and date)" };
    }
    out.xaxis = xaxis;
    return out;
  }

  function draw(el, figure, redraw) {
    const config = { responsive: true, displaylogo: false, displayModeBar: !narrow() };
    (redraw ? Plotly.react : Plotly.newPlot)(el, figure.data, fitLayout(figure), config);
  }

  function drawAll() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("script.figure").forEach(function (block) {
      const el = document.getElementById(block.dataset.chart);
      if (el) draw(el, JSON.parse(block.textContent), false);
    });
  }

  function live() {
    const body = document.body;
    if (body.dataset.status !== "running" || !body.dataset.run) return;
    const every = Number(body.dataset.refreshMs) || 3000;
    async function refresh() {
      const r = await fetch("/api/runs/" + encodeURIComponent(body.dataset.run) + "/figures",
                            { credentials: "same-origin" });
      if (!r.ok) return;
      const figs = await r.json();
      for (const f of figs.figures) {
        const el = document.getElementById("chart-" + f.id);
        if (el && typeof Plotly !== "undefined") draw(el, f.figure, true);
      }
      const totals = document.getElementById("totals");
      if (totals) totals.textContent = figs.totals;
      if (figs.status !== "running") clearInterval(timer);
    }
    const timer = setInterval(refresh, every);
  }

  drawAll();
  live();
})();
