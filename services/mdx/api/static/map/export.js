// The map's download links: what the filters show, as GeoJSON, CSV or KML, from this node's
// exports (/api/v1/exports/...). Each link carries the same filters as the map (categories,
// statuses, origin, time window and replay moment) as the export's query; the session cookie
// authenticates the download. Kept apart from map.js: it reads only the filter controls.
"use strict";

(() => {
  const EXPORTS = "/api/v1/exports";
  const MINUTE_MS = 60 * 1000;
  const $ = (id) => document.getElementById(id);
  const t = (key) => {
    const dict = window.MDX_I18N;
    const lang = document.documentElement.lang;
    return (dict[lang] && dict[lang][key]) || dict.en[key] || key;
  };

  // The incidents the map shows, as the export's query; null when it shows none.
  function incidentQuery() {
    const q = new URLSearchParams();
    for (const [id, name] of [["filter-category", "category"], ["filter-status", "status"]]) {
      const boxes = [...$(id).querySelectorAll("input[type=checkbox]")];
      const on = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!on.length) return null;
      if (on.length < boxes.length) q.set(name, on.join(","));
    }
    const origin = $("filter-origin").value;
    if (origin) q.set("origin", origin);
    // The map shows start < observed_at <= end; the API selects since <= observed_at < until,
    // so each bound moves by a millisecond (the API reads fractions of a second).
    const minutes = Number($("replay").value) || 0;
    const end = Date.now() + minutes * MINUTE_MS;
    const windowMs = Number($("filter-window").value) || 0;
    if (windowMs) q.set("since", new Date(end - windowMs + 1).toISOString());
    if (minutes) q.set("until", new Date(end + 1).toISOString());
    return q;
  }

  // Vessels are not filtered on the map: every vessel the node shows.
  const vesselQuery = () => new URLSearchParams();

  function refresh(link) {
    const q = link.dataset.export === "incidents" ? incidentQuery() : vesselQuery();
    if (q === null) {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
      link.title = t("download.nothing");
      return false;
    }
    const query = q.toString();
    link.href = `${EXPORTS}/${link.dataset.export}.${link.dataset.format}${query ? "?" + query : ""}`;
    link.removeAttribute("aria-disabled");
    link.removeAttribute("title");
    return true;
  }

  const links = () => [...document.querySelectorAll("#download a[data-export]")];
  const refreshAll = () => links().forEach(refresh);

  // Built again on click: the time window moves with the clock.
  for (const link of links()) {
    link.addEventListener("click", (ev) => { if (!refresh(link)) ev.preventDefault(); });
  }
  $("filters").addEventListener("change", refreshAll);
  $("filters").addEventListener("input", refreshAll);
  $("replay-live").addEventListener("click", () => setTimeout(refreshAll));
  new MutationObserver(refreshAll).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["lang"],
  });
  setInterval(refreshAll, MINUTE_MS);
  refreshAll();
})();
