// carbonledger dashboard: draws the charts a page carries as JSON blocks, and redraws a
// running run's charts every few seconds. Loaded as a file (the pages' Content-Security-
// Policy allows no inline script).
"use strict";
(function () {
  const NARROW_PX = 600;

  function fitLayout(layout) {
    const out = Object.assign({}, layout, { autosize: true });
    delete out.width;
    if (window.innerWidth < NARROW_PX) {
      out.margin = { l: 48, r: 8, t: 56, b: 40 };
      out.legend = { orientation: "h", x: 0, y: -0.25 };
      const title = typeof out.title === "string" ? { text: out.title } : Object.assign({}, out.title);
      title.font = Object.assign({}, title.font, { size: 12 });
      out.title = title;
    }
    return out;
  }

  function draw(el, figure, redraw) {
    const config = { responsive: true, displaylogo: false };
    const layout = fitLayout(figure.layout || {});
    (redraw ? Plotly.react : Plotly.newPlot)(el, figure.data, layout, config);
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
