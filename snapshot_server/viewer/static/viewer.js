// Snapshot viewer: hover readout for the server-drawn SVG charts. No dependencies, no requests.
"use strict";
(function () {
  const VIEW = 1000;

  function pad(n) { return String(n).padStart(2, "0"); }

  function timeText(ms) {
    const d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
  }

  // Index of the point whose x is nearest to x (points sorted by x).
  function nearest(points, x) {
    let lo = 0, hi = points.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] < x) lo = mid; else hi = mid;
    }
    return Math.abs(points[lo][0] - x) <= Math.abs(points[hi][0] - x) ? lo : hi;
  }

  function setup(chart) {
    const script = chart.parentElement.querySelector("script.chart-data");
    const plot = chart.querySelector(".plot");
    const svg = chart.querySelector(".plot-svg");
    const cursor = chart.querySelector(".cursor");
    const readout = chart.querySelector(".readout");
    if (!script || !plot || !svg || !cursor || !readout) return;
    const data = JSON.parse(script.textContent);
    const series = data.s.filter(function (s) { return s.p.length > 0; });
    if (!series.length) return;
    // Snap distance: a point farther than this (in viewBox units) is not "under" the cursor.
    const snap = 25;

    function hide() { readout.hidden = true; cursor.setAttribute("x1", "-10"); cursor.setAttribute("x2", "-10"); }

    function show(event) {
      const box = svg.getBoundingClientRect();
      if (box.width <= 0) return;
      const x = (event.clientX - box.left) / box.width * VIEW;
      const rows = [];
      let snapped = null;
      for (const s of series) {
        const p = s.p[nearest(s.p, x)];
        if (Math.abs(p[0] - x) > snap) continue;
        if (snapped === null || Math.abs(p[0] - x) < Math.abs(snapped - x)) snapped = p[0];
        rows.push([s, p]);
      }
      if (!rows.length) { hide(); return; }
      cursor.setAttribute("x1", String(snapped));
      cursor.setAttribute("x2", String(snapped));
      readout.replaceChildren();
      const head = document.createElement("div");
      head.className = "r-time";
      head.textContent = timeText(data.t0 + snapped / VIEW * (data.t1 - data.t0));
      readout.append(head);
      for (const [s, p] of rows) {
        const line = document.createElement("div");
        const swatch = document.createElement("span");
        swatch.className = "r-sw";
        swatch.style.background = s.c;
        const name = document.createElement("span");
        name.textContent = s.n;
        const value = document.createElement("span");
        value.className = "r-val";
        value.textContent = p[1];
        line.append(swatch, name, value);
        readout.append(line);
      }
      readout.hidden = false;
      const left = event.clientX - box.left;
      const width = readout.offsetWidth;
      readout.style.left = (left + 14 + width > box.width ? Math.max(0, left - 14 - width) : left + 14) + "px";
    }

    plot.addEventListener("pointermove", show);
    plot.addEventListener("pointerleave", hide);
  }

  function init() {
    document.querySelectorAll(".chart").forEach(setup);
    document.documentElement.dataset.viewerReady = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
