// The p2pstream tracker's dashboard: fetches the live part of the page
// (GET /?fragment=live, rendered and escaped by the tracker) every few
// seconds, swaps it in, and draws each stream's recent history. No build
// step, no dependencies.
"use strict";
(() => {
  const HISTORY = 120; // samples kept per stream
  const params = new URLSearchParams(location.search);
  const seconds = parseFloat(params.get("refresh")) || parseFloat(document.body.dataset.refresh) || 2;
  const refresh = Math.max(250, seconds * 1000);
  const history = new Map(); // stream ID -> {saving: [], viewers: [], received: []}
  let updates = 0;

  const push = (list, v) => {
    list.push(Number.isFinite(v) ? v : 0);
    if (list.length > HISTORY) list.shift();
  };

  const svgNS = "http://www.w3.org/2000/svg";
  const line = (svg, values, top, color, fill) => {
    const w = 300, h = 92, pad = 4;
    if (values.length === 0) return;
    const step = values.length > 1 ? w / (values.length - 1) : w;
    const pts = values.map((v, i) => {
      const x = values.length > 1 ? i * step : w;
      const y = h - pad - (top > 0 ? v / top : 0) * (h - 2 * pad);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    if (fill) {
      const area = document.createElementNS(svgNS, "polygon");
      area.setAttribute("points", (values.length > 1 ? "0," : w + ",") + h + " " + pts.join(" ") + " " + w + "," + h);
      area.setAttribute("fill", fill);
      svg.appendChild(area);
    }
    const pl = document.createElementNS(svgNS, "polyline");
    pl.setAttribute("points", pts.join(" "));
    pl.setAttribute("fill", "none");
    pl.setAttribute("stroke", color);
    pl.setAttribute("stroke-width", "2");
    pl.setAttribute("vector-effect", "non-scaling-stroke");
    pl.setAttribute("stroke-linejoin", "round");
    svg.appendChild(pl);
  };

  const draw = (section, h) => {
    const svg = section.querySelector("svg.spark");
    if (!svg) return;
    svg.replaceChildren();
    for (const y of [0.25, 0.5, 0.75]) {
      const g = document.createElementNS(svgNS, "line");
      g.setAttribute("x1", "0"); g.setAttribute("x2", "300");
      g.setAttribute("y1", String(4 + y * 84)); g.setAttribute("y2", String(4 + y * 84));
      g.setAttribute("stroke", "#e9ecef");
      g.setAttribute("vector-effect", "non-scaling-stroke");
      svg.appendChild(g);
    }
    const css = getComputedStyle(document.documentElement);
    line(svg, h.saving, 1, css.getPropertyValue("--saving").trim() || "#12b886", "rgba(18,184,134,.12)");
    line(svg, h.viewers, Math.max(1, ...h.viewers) * 1.15, css.getPropertyValue("--viewers").trim() || "#4c6ef5");
    svg.dataset.samples = String(h.saving.length);
    svg.dataset.receivedHistory = h.received.join(",");
    const span = section.querySelector(".spark-span");
    if (span) span.textContent = "last " + Math.round((h.saving.length - 1) * refresh / 1000) + " s";
  };

  // record adds the figures now on the page to each stream's history and
  // redraws the charts; streams that are gone are forgotten.
  const record = () => {
    const seen = new Set();
    for (const section of document.querySelectorAll("section.stream")) {
      const id = section.dataset.id;
      seen.add(id);
      let h = history.get(id);
      if (!h) history.set(id, h = { saving: [], viewers: [], received: [] });
      push(h.saving, parseFloat(section.dataset.saving));
      push(h.viewers, parseFloat(section.dataset.viewers));
      push(h.received, parseFloat(section.dataset.received));
      draw(section, h);
    }
    for (const id of [...history.keys()]) if (!seen.has(id)) history.delete(id);
  };

  const status = (ok, text) => {
    const pill = document.getElementById("status");
    pill.classList.toggle("live", ok);
    pill.classList.toggle("down", !ok);
    document.getElementById("status-text").textContent = text;
  };

  const poll = async () => {
    try {
      const resp = await fetch("/?fragment=live", { cache: "no-store" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      const html = await resp.text();
      const live = document.getElementById("live");
      live.innerHTML = html; // rendered and escaped by the tracker's html/template
      const totals = live.querySelector("#live-totals");
      if (totals) document.getElementById("totals").replaceChildren(totals.content.cloneNode(true));
      updates++;
      document.body.dataset.updates = String(updates);
      record();
      status(true, "live · updated " + new Date().toLocaleTimeString([], { hour12: false }));
    } catch (err) {
      status(false, "tracker unreachable (" + err.message + "), retrying");
    }
    setTimeout(poll, refresh);
  };

  record();
  status(true, "live · every " + refresh / 1000 + " s");
  setTimeout(poll, refresh);
})();
