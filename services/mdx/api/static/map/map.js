// The operator's map: incidents and vessels of this node over an offline basemap.
// Rule: whatever the server sends is put in the page with textContent or as attribute values,
// never parsed as HTML.
"use strict";

(function () {
  const API = "/api/v1";
  const CATEGORIES = ["iuu_fishing", "sar", "piracy_robbery", "pollution", "smuggling",
    "irregular_migration", "maritime_safety", "other"];
  const STATUSES = ["reported", "acknowledged", "responding", "resolved", "closed"];
  const SEVERITIES = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
  const GLYPH = { iuu_fishing: "F", sar: "R", piracy_robbery: "P", pollution: "O", smuggling: "X",
    irregular_migration: "M", maritime_safety: "!", other: "?" };
  const TLPS = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"];
  const POLL_MS = 1000;
  const MINUTE_MS = 60 * 1000;
  const INITIAL_PAGES = 4; // of 5000 incidents: the picture read when the map opens
  // What the map draws and filters on; the details panel reads the whole incident.
  const DRAWN = "category,status,title,tlp,origin,observed_at,version";
  const PARTNERS_MS = 5000;

  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };

  // --- language -------------------------------------------------------------------------
  const dict = window.MDX_I18N;
  let lang = (() => {
    const saved = localStorage.getItem("mdx.lang");
    if (saved && dict[saved]) return saved;
    const nav = (navigator.language || "en").slice(0, 2);
    return dict[nav] ? nav : "en";
  })();
  const t = (key) => (dict[lang] && dict[lang][key]) || dict.en[key] || key;

  function applyLanguage() {
    document.documentElement.lang = lang;
    $("lang").value = lang;
    document.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
    document.querySelectorAll("[data-i18n-title]").forEach((e) => { e.title = t(e.dataset.i18nTitle); });
    document.querySelectorAll("[data-i18n-option]").forEach((e) => { e.textContent = t(e.dataset.i18nOption); });
    setLive(liveMode);
    renderPartners(lastPartners);
    if (selected) showDetails(selected);
    if (selectedVessel) showVessel(selectedVessel);
    renderReplay();
  }

  // --- map ------------------------------------------------------------------------------
  const map = L.map("map", { worldCopyJump: true, minZoom: 2, maxZoom: 14 }).setView([36.5, 131.5], 5);
  map.attributionControl.setPrefix(false);
  // Companion scripts (zones.js) add their layers to this map; nothing else is shared.
  window.mdxMap = map;
  map.attributionControl.addAttribution("Natural Earth");
  // Panes fix the drawing order whatever loads first: land, then zones and tracks (the
  // overlay pane), then vessels, then incident markers.
  map.createPane("basemap").style.zIndex = 250;
  map.createPane("vessels").style.zIndex = 450;
  fetch("vendor/countries.geojson")
    .then((r) => r.json())
    .then((geo) => {
      L.geoJSON(geo, {
        interactive: false,
        pane: "basemap",
        style: { color: "#7d8a6a", weight: 0.8, fillColor: "#eef0e2", fillOpacity: 1 },
      }).addTo(map);
    });

  const clusters = L.markerClusterGroup({ maxClusterRadius: 40, showCoverageOnHover: false });
  map.addLayer(clusters);
  const vesselLayer = L.featureGroup().addTo(map);
  const trackLayer = L.layerGroup().addTo(map);

  const incidents = new Map(); // id -> {feature, marker, shown}
  const vessels = new Map(); // mmsi -> {marker, props}
  let selectedVessel = null;
  let selected = null;

  function tlpClass(tlp) {
    return "tlp-" + (TLPS.includes(tlp) ? tlp.replace("+", "-") : "CLEAR");
  }

  function latLngOf(feature) {
    const g = feature.geometry;
    if (!g) return null;
    if (g.type === "Point") return L.latLng(g.coordinates[1], g.coordinates[0]);
    // A polygon: its bounding box's centre is good enough for a symbol.
    return L.geoJSON(g).getBounds().getCenter();
  }

  // Icons are shared by every marker of the same look: ten thousand markers, a few dozen icons.
  // Their HTML comes only from the fixed GLYPH table, never from what the server sent.
  const icons = new Map();
  function incidentIcon(feature) {
    const p = feature.properties;
    const cat = CATEGORIES.includes(p.category) ? p.category : "other";
    const cls = `inc cat-${cat} ${tlpClass(p.tlp)}` + (selected === feature.id ? " selected" : "");
    let icon = icons.get(cls);
    if (!icon) {
      icon = L.divIcon({ html: `<div class="sym"><span>${GLYPH[cat]}</span></div>`, className: cls,
        iconSize: [24, 24], iconAnchor: [12, 12] });
      icons.set(cls, icon);
    }
    return icon;
  }

  // A marker that names its incident on its element, for the page's tests and scripts.
  const IncidentMarker = L.Marker.extend({
    _initIcon() {
      L.Marker.prototype._initIcon.call(this);
      const p = this.feature.properties;
      this._icon.dataset.incidentId = this.feature.id;
      this._icon.dataset.category = CATEGORIES.includes(p.category) ? p.category : "other";
    },
  });

  function upsertIncident(feature) {
    if (!feature || !feature.id || !feature.properties) return;
    const known = incidents.get(feature.id);
    if (known && (known.feature.properties.version || 0) > (feature.properties.version || 0)) return;
    const at = latLngOf(feature);
    if (!at) return;
    if (known) {
      // A lighter copy of the same version (the first picture's) never replaces a full one.
      const full = "provenance" in feature.properties;
      if (!full && known.full && known.feature.properties.version === feature.properties.version) return;
      known.feature = feature;
      known.full = full;
      known.marker.feature = feature;
      known.marker.options.title = feature.properties.title || "";
      known.marker.setLatLng(at);
      known.marker.setIcon(incidentIcon(feature));
    } else {
      const marker = new IncidentMarker(at, {
        icon: incidentIcon(feature),
        title: feature.properties.title || "", // Leaflet sets it as an attribute value
        keyboard: true,
      });
      marker.feature = feature;
      incidents.set(feature.id, { feature, marker, shown: false, full: "provenance" in feature.properties });
    }
    noteOrigin(feature.properties.origin);
    if (!bulk) applyFilter(feature.id);
    $("incident-count").textContent = String(incidents.size);
    if (selected === feature.id) showDetails(feature.id);
  }
  // One listener for all markers: a listener per marker costs more than drawing them.
  clusters.on("click", (ev) => ev.layer.feature && showDetails(ev.layer.feature.id));

  // --- vessels (read once at start, then kept live by the stream's position events) ------
  // Vessels are paths in one SVG layer, not positioned marker boxes: five thousand of them
  // draw and zoom in a fraction of the time. An arrow along the heading (course when the
  // heading is unknown), a dot when neither is known.
  const vesselRenderer = L.svg({ padding: 0.3, pane: "vessels" });
  const ARROW = [[0, -7], [5, 6], [0, 3], [-5, 6]];
  const VesselMark = L.CircleMarker.extend({
    onAdd(map) {
      L.CircleMarker.prototype.onAdd.call(this, map);
      this._path.dataset.mmsi = this.mmsi;
      this._labelPath();
    },
    _labelPath() {
      if (!this._path) return;
      const deg = this.options.heading;
      this._path.dataset.heading = deg === null ? "" : String(deg);
      let title = this._path.firstChild;
      if (!title) {
        title = document.createElementNS("http://www.w3.org/2000/svg", "title");
        this._path.appendChild(title);
      }
      title.textContent = this.options.label;
    },
    _updatePath() {
      const p = this._point;
      const deg = this.options.heading;
      if (deg === null) { this._renderer._updateCircle(this); return; }
      const a = (deg * Math.PI) / 180;
      const cos = Math.cos(a);
      const sin = Math.sin(a);
      const d = ARROW.map(([x, y], i) =>
        `${i ? "L" : "M"}${(p.x + x * cos - y * sin).toFixed(1)} ${(p.y + x * sin + y * cos).toFixed(1)}`);
      this._renderer._setPath(this, d.join("") + "Z");
    },
  });

  function headingOf(props) {
    if (Number.isFinite(props.heading) && props.heading !== 511) return props.heading;
    return Number.isFinite(props.cog) ? props.cog : null;
  }

  function upsertVessel(feature) {
    if (!feature || !feature.geometry || feature.geometry.type !== "Point") return;
    const id = String(feature.id || (feature.properties && feature.properties.mmsi) || "");
    if (!id) return;
    const props = { mmsi: id, ...(feature.properties || {}) };
    const at = L.latLng(feature.geometry.coordinates[1], feature.geometry.coordinates[0]);
    const known = vessels.get(id);
    if (known) {
      // The list read at start may answer after a newer position came on the stream.
      const before = Date.parse(known.props.observed_at);
      if (Date.parse(props.observed_at) < before) return;
      if (!props.name && known.props.name) props.name = known.props.name;
      known.props = props;
      known.marker.options.heading = headingOf(props);
      known.marker.options.label = props.name ? `${props.name} (${id})` : id;
      known.marker.setLatLng(at); // redraws the arrow along the new heading
      known.marker._labelPath();
    } else {
      const marker = new VesselMark(at, {
        renderer: vesselRenderer, className: "vessel", radius: 5, weight: 1, color: "#fff",
        fillColor: "#1e3a8a", fillOpacity: 1, heading: headingOf(props),
        label: props.name ? `${props.name} (${id})` : id,
      });
      marker.mmsi = id;
      vesselLayer.addLayer(marker);
      vessels.set(id, { marker, props });
    }
    $("vessel-count").textContent = String(vessels.size);
    if (selectedVessel === id) {
      showVessel(id);
      loadTrack(id);
    }
  }
  vesselLayer.on("click", (ev) => selectVessel(ev.layer.mmsi));

  async function loadVessels() {
    const r = await fetch(`${API}/vessels?limit=20000`);
    if (!r.ok) throw new Error(`vessels: ${r.status}`);
    const body = await r.json();
    (body.features || []).forEach(upsertVessel);
  }

  function showVessel(id) {
    const v = vessels.get(id);
    if (!v) return;
    const p = v.props;
    $("vessel").hidden = false;
    $("vessel").dataset.mmsi = id;
    $("vessel-title").textContent = p.name || id;
    const dl = $("vessel-fields");
    dl.replaceChildren();
    dlRow(dl, "name", p.name);
    dlRow(dl, "mmsi", id);
    dlRow(dl, "flag", p.flag);
    dlRow(dl, "ship_category", p.category && t(`ship.${p.category}`));
    dlRow(dl, "call_sign", p.call_sign);
    dlRow(dl, "imo", p.imo);
    dlRow(dl, "sog", Number.isFinite(p.sog) ? `${p.sog} kn` : null);
    dlRow(dl, "cog", Number.isFinite(p.cog) ? `${p.cog}°` : null);
    dlRow(dl, "last_seen", p.observed_at);
  }

  let trackFor = null;
  async function loadTrack(id) {
    trackFor = id;
    let body;
    try {
      const r = await fetch(`${API}/vessels/${encodeURIComponent(id)}/track?limit=5000`);
      if (!r.ok) throw new Error(`track: ${r.status}`);
      body = await r.json();
    } catch (e) {
      return;
    }
    if (trackFor !== id) return; // another vessel was chosen meanwhile: one track at a time
    const g = body.geometry;
    const coords = !g ? [] : g.type === "Point" ? [g.coordinates] : g.coordinates;
    trackLayer.clearLayers();
    const line = L.polyline(coords.map((c) => [c[1], c[0]]), {
      className: "track", color: "#d9480f", weight: 3, interactive: false,
    }).addTo(trackLayer);
    const path = line.getElement();
    if (path) {
      path.dataset.mmsi = id;
      path.dataset.points = String(coords.length);
    }
  }

  function selectVessel(id) {
    selectedVessel = id;
    showVessel(id);
    loadTrack(id);
  }

  function closeVessel() {
    selectedVessel = null;
    trackFor = null;
    trackLayer.clearLayers();
    $("vessel").hidden = true;
  }

  // --- filters --------------------------------------------------------------------------
  const origins = new Set();
  function buildChecks(container, values, prefix) {
    for (const v of values) {
      const label = el("label");
      const box = el("input");
      box.type = "checkbox";
      box.checked = true;
      box.value = v;
      box.name = `filter-${prefix}`;
      box.addEventListener("change", () => applyFilter());
      const text = el("span");
      text.dataset.i18n = `${prefix}.${v}`;
      text.textContent = t(`${prefix}.${v}`);
      label.append(box, " ", text);
      container.appendChild(label);
    }
  }
  function noteOrigin(origin) {
    if (!origin || origins.has(origin)) return;
    origins.add(origin);
    const opt = el("option", origin);
    opt.value = origin;
    $("filter-origin").appendChild(opt);
  }
  const checked = (id) => new Set([...$(id).querySelectorAll("input:checked")].map((b) => b.value));

  // Time: incidents observed in the window that ends at the replay moment (now when live).
  let bulk = false; // while the first picture loads, markers are added in one go at the end
  function timeRange() {
    const minutes = Number($("replay").value) || 0;
    const end = Date.now() + minutes * MINUTE_MS;
    const windowMs = Number($("filter-window").value) || 0;
    return { start: windowMs ? end - windowMs : -Infinity, end };
  }

  function renderReplay() {
    const minutes = Number($("replay").value) || 0;
    const live = minutes === 0;
    $("replay-live").disabled = live;
    $("replay-live").classList.toggle("on", live);
    $("time").dataset.replay = live ? "live" : String(minutes);
    $("replay-at").textContent = live ? t("replay.now")
      : new Date(Date.now() + minutes * MINUTE_MS).toLocaleString(lang);
  }

  function applyFilter(onlyId) {
    const cats = checked("filter-category");
    const sts = checked("filter-status");
    const origin = $("filter-origin").value;
    const { start, end } = timeRange();
    const ids = onlyId ? [onlyId] : [...incidents.keys()];
    const adds = [];
    const removes = [];
    for (const id of ids) {
      const item = incidents.get(id);
      const p = item.feature.properties;
      const at = Date.parse(p.observed_at);
      const want = cats.has(CATEGORIES.includes(p.category) ? p.category : "other")
        && sts.has(p.status) && (!origin || p.origin === origin)
        && (Number.isNaN(at) || (at > start && at <= end));
      if (want && !item.shown) adds.push(item.marker);
      else if (!want && item.shown) removes.push(item.marker);
      else if (want && onlyId) { clusters.removeLayer(item.marker); clusters.addLayer(item.marker); }
      item.shown = want;
    }
    if (removes.length) clusters.removeLayers(removes);
    if (adds.length) clusters.addLayers(adds);
  }

  // --- details --------------------------------------------------------------------------
  function dlRow(dl, key, value) {
    dl.appendChild(el("dt", t(key)));
    const dd = el("dd");
    if (value instanceof Node) dd.appendChild(value);
    else dd.textContent = value === undefined || value === null || value === "" ? "—" : String(value);
    dd.dataset.field = key;
    dl.appendChild(dd);
  }

  function showDetails(id) {
    const item = incidents.get(id);
    if (!item) return;
    const previous = selected;
    selected = id;
    if (previous && previous !== id && incidents.has(previous)) {
      incidents.get(previous).marker.setIcon(incidentIcon(incidents.get(previous).feature));
    }
    item.marker.setIcon(incidentIcon(item.feature));
    if (!item.full) {
      // The first picture carries what the map draws: the whole incident is read first, and
      // upsertIncident shows it (it is selected). Failing that, what the map has is shown.
      fetch(`${API}/incidents/${encodeURIComponent(id)}`)
        .then((r) => (r.ok ? r.json() : null))
        .then((feature) => { if (feature) upsertIncident(feature); })
        .catch(() => {})
        .finally(() => { if (selected === id && !incidents.get(id).full) renderDetails(incidents.get(id)); });
      return;
    }
    renderDetails(item);
  }

  function renderDetails(item) {
    const id = item.feature.id;
    const p = item.feature.properties;
    const prov = p.provenance || {};
    $("report").hidden = true;
    $("details").hidden = false;
    $("details").dataset.incidentId = id;
    $("details-title").textContent = p.title || id;
    const dl = $("details-fields");
    dl.replaceChildren();
    dlRow(dl, "category", t(`cat.${p.category}`));
    dlRow(dl, "status", t(`st.${p.status}`));
    dlRow(dl, "severity", p.severity);
    dlRow(dl, "certainty", p.certainty);
    dlRow(dl, "urgency", p.urgency);
    dlRow(dl, "origin", p.origin);
    dlRow(dl, "observed_at", p.observed_at);
    dlRow(dl, "received_at", p.received_at);
    dlRow(dl, "version", p.version);
    if (p.description) dlRow(dl, "description", p.description);
    dlRow(dl, "tlp", el("span", p.tlp, `tlp-badge ${tlpClass(p.tlp)}`));
    dlRow(dl, "relto", (p.relto || []).join(", ") || t("none"));
    dlRow(dl, "purpose", p.purpose);
    dlRow(dl, "received_via", prov.received_via || t("local"));
    dlRow(dl, "signature_verified", prov.signature_verified ? t("yes") : t("no"));

    const custody = $("details-custody");
    custody.replaceChildren();
    for (const c of prov.custody || []) {
      custody.appendChild(el("li", `${c.node || "?"}: ${c.from || "?"} → ${c.to || "?"} ${c.at || ""}`));
    }
    if (!custody.children.length) custody.appendChild(el("li", t("none")));

    const vs = $("details-vessels");
    vs.replaceChildren();
    for (const v of p.vessels || []) {
      const parts = [v.name, v.mmsi && `MMSI ${v.mmsi}`, v.imo && `IMO ${v.imo}`, v.call_sign, v.role]
        .filter(Boolean);
      vs.appendChild(el("li", parts.join(" · ") || JSON.stringify(v)));
    }
    if (!vs.children.length) vs.appendChild(el("li", t("none")));
    loadTimeline(id);
  }

  // A SITREP's IAMSAR sections, each under its own name.
  const SITREP_SECTIONS = ["identity", "situation", "persons_at_risk", "assistance_required",
    "coordinating_centre"];
  function sitrepText(sitrep) {
    if (typeof sitrep !== "object") return String(sitrep);
    return SITREP_SECTIONS.filter((k) => sitrep[k] !== undefined && sitrep[k] !== "")
      .map((k) => `${t(`sitrep.${k}`)}: ${sitrep[k]}`).join(" · ");
  }

  let timelineFor = null;
  function loadTimeline(id) {
    timelineFor = id;
    fetch(`${API}/incidents/${encodeURIComponent(id)}/timeline`)
      .then((r) => (r.ok ? r.json() : { timeline: [] }))
      .then((body) => {
        if (timelineFor !== id) return;
        const ol = $("details-timeline");
        ol.replaceChildren();
        for (const e of body.timeline || []) {
          const li = el("li");
          li.appendChild(el("time", e.at));
          const kind = e.type === "version" ? `${t("step.version")} ${e.version}` : t(`step.${e.type}`);
          const bits = [kind, e.by && `(${e.by})`];
          if (e.type === "version" || e.type === "status") bits.push(e.status && t(`st.${e.status}`) !== `st.${e.status}` ? t(`st.${e.status}`) : e.status);
          if (e.number) bits.push(`#${e.number}`);
          if (e.to) bits.push(`→ ${e.to}`);
          if (e.asset) bits.push(e.asset.name || e.asset.id || JSON.stringify(e.asset));
          if (e.text) bits.push(e.text);
          if (e.sitrep) bits.push(sitrepText(e.sitrep));
          li.appendChild(el("span", " " + bits.filter(Boolean).join(" ")));
          ol.appendChild(li);
        }
        if (!ol.children.length) ol.appendChild(el("li", t("none")));
      })
      .catch(() => {});
  }

  // Companion scripts (actions.js) say when the shown incident has new SAR steps.
  $("details").addEventListener("mdx:timeline", () => { if (selected) loadTimeline(selected); });

  $("details-close").addEventListener("click", () => {
    $("details").hidden = true;
    const prev = selected;
    selected = null;
    if (prev && incidents.has(prev)) incidents.get(prev).marker.setIcon(incidentIcon(incidents.get(prev).feature));
  });

  // --- report form ----------------------------------------------------------------------
  let draft = null;
  let draftAt = null;
  function fillSelect(select, values, prefix, blank) {
    select.replaceChildren();
    if (blank) { const o = el("option", t(blank)); o.value = ""; o.dataset.i18nOption = blank; select.appendChild(o); }
    for (const v of values) {
      const o = el("option", prefix ? t(`${prefix}.${v}`) : v);
      o.value = v;
      if (prefix) o.dataset.i18nOption = `${prefix}.${v}`;
      select.appendChild(o);
    }
  }
  fillSelect($("report-category"), CATEGORIES, "cat");
  fillSelect($("report-status"), STATUSES, "st");
  fillSelect($("report-severity"), SEVERITIES, null, "sev.unset");

  function clearErrors() {
    for (const e of document.querySelectorAll("#report-form .field-error")) e.textContent = "";
    for (const e of document.querySelectorAll("#report-form [aria-invalid]")) e.removeAttribute("aria-invalid");
    $("report-result").textContent = "";
  }

  map.on("click", (ev) => {
    draftAt = ev.latlng.wrap();
    if (draft) draft.setLatLng(ev.latlng);
    else draft = L.marker(ev.latlng, { icon: L.divIcon({ html: "<div></div>", className: "draft", iconSize: [14, 14] }), interactive: false }).addTo(map);
    $("details").hidden = true;
    $("report").hidden = false;
    $("report-where").textContent = `${draftAt.lat.toFixed(4)}, ${draftAt.lng.toFixed(4)}`;
    clearErrors();
    $("report-title").focus();
  });
  $("report-close").addEventListener("click", () => {
    $("report").hidden = true;
    if (draft) { draft.remove(); draft = null; }
  });

  const FIELDS = ["category", "status", "title", "severity"];
  function showError(err) {
    // problem+json errors: body rules have `path` (/title), parameters have `parameter`.
    const path = String(err.path || err.parameter || "");
    const field = FIELDS.find((f) => path === `/${f}` || path === f || path.startsWith(`/${f}/`));
    let slot = field ? $(`err-${field}`) : null;
    if (!field && /required/i.test(err.keyword || "")) {
      const missing = FIELDS.find((f) => (err.message || "").includes(`'${f}'`));
      if (missing) slot = $(`err-${missing}`);
    }
    const target = slot || $("err-general");
    const line = el("span", (slot ? "" : (path ? `${path}: ` : "")) + (err.message || ""));
    if (target.textContent) target.appendChild(el("br"));
    target.appendChild(line);
    if (slot) $(`report-${slot.id.slice(4)}`).setAttribute("aria-invalid", "true");
  }

  $("report-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    if (!draftAt) return;
    const data = {
      category: $("report-category").value,
      status: $("report-status").value,
      title: $("report-title").value.trim(),
      location: { type: "Point", coordinates: [Number(draftAt.lng.toFixed(6)), Number(draftAt.lat.toFixed(6))] },
      observed_at: new Date().toISOString(),
    };
    if ($("report-severity").value) data.severity = $("report-severity").value;
    let r;
    try {
      r = await fetch(`${API}/incidents`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/geo+json, application/problem+json" },
        body: JSON.stringify(data),
      });
    } catch (e) {
      $("err-general").textContent = String(e);
      return;
    }
    const body = await r.json().catch(() => ({}));
    if (r.ok) {
      upsertIncident(body);
      $("report-result").textContent = t("report.ok");
      $("report-title").value = "";
      if (draft) { draft.remove(); draft = null; }
      showDetails(body.id);
      return;
    }
    const errors = Array.isArray(body.errors) && body.errors.length ? body.errors : [{ message: body.detail || r.statusText }];
    $("report-result").textContent = t("report.failed");
    errors.forEach(showError);
  });

  // --- partners -------------------------------------------------------------------------
  let lastPartners = null;
  function renderPartners(body) {
    const rows = $("partner-rows");
    const note = $("partners-note");
    rows.replaceChildren();
    note.textContent = "";
    if (!body) return;
    if (body.error) { note.textContent = `${t("partners.error")}: ${body.error}`; return; }
    if (!(body.partners || []).length) { note.textContent = t("partners.none"); return; }
    for (const p of body.partners) {
      const tr = el("tr");
      tr.dataset.partner = p.id;
      const name = el("td", p.id);
      if (p.name) name.title = p.name;
      const c = p.link && p.link.connected;
      const state = c === true ? "up" : c === false ? "down" : "unknown";
      const link = el("td", t(`link.${state}`), state);
      if (p.link && p.link.since) link.title = p.link.since;
      const backlog = el("td", p.outbound ? p.outbound.backlog : "—");
      if (p.outbound && p.outbound.oldest_unreceipted_at) backlog.title = p.outbound.oldest_unreceipted_at;
      const lag = el("td", p.inbound ? p.inbound.lag : "—");
      if (p.inbound && p.inbound.last_seen_at) lag.title = p.inbound.last_seen_at;
      tr.append(name, link, backlog, lag);
      rows.appendChild(tr);
    }
  }
  async function refreshPartners() {
    try {
      const r = await fetch(`${API}/partners`);
      const body = await r.json();
      lastPartners = r.ok ? body : { error: body.detail || r.status };
      if (body.node) $("node-id").textContent = `— ${body.node}`;
    } catch (e) {
      lastPartners = { error: String(e) };
    }
    renderPartners(lastPartners);
  }

  // --- live updates ---------------------------------------------------------------------
  let liveMode = "offline";
  function setLive(mode) {
    liveMode = mode;
    const badge = $("live-state");
    badge.textContent = t(`live.${mode}`);
    badge.className = "live" + (mode === "offline" ? "" : " on");
    badge.dataset.mode = mode;
  }

  async function loadIncidents() {
    const r = await fetch(`${API}/incidents?limit=500&properties=${DRAWN}`);
    if (!r.ok) throw new Error(`incidents: ${r.status}`);
    const body = await r.json();
    (body.features || []).forEach(upsertIncident);
  }

  async function loadPicture() {
    // The first picture: every page of incidents (up to a cap) and every vessel, then the
    // markers are clustered in one go (one by one takes minutes for ten thousand).
    bulk = true;
    try {
      const vesselsRead = loadVessels().catch(() => {});
      let url = `${API}/incidents?limit=5000&properties=${DRAWN}`;
      for (let page = 0; url && page < INITIAL_PAGES; page++) {
        const r = await fetch(url);
        if (!r.ok) throw new Error(`incidents: ${r.status}`);
        const body = await r.json();
        (body.features || []).forEach(upsertIncident);
        const next = (body.links || []).find((l) => l.rel === "next");
        url = next ? next.href : null;
      }
      await vesselsRead;
    } finally {
      bulk = false;
      applyFilter();
    }
  }

  function startStream() {
    // The stream starts at "now": the current picture is read once it is open, so nothing
    // stored in between is missed (an incident seen twice is merged by its version).
    const es = new EventSource(`${API}/stream`);
    let loaded = false;
    es.addEventListener("open", () => {
      setLive("stream");
      if (!loaded) { loaded = true; loadPicture().catch(() => {}).finally(ready); }
    });
    es.addEventListener("error", () => setLive(es.readyState === EventSource.CLOSED ? "offline" : "polling"));
    const parse = (fn) => (ev) => { try { fn(JSON.parse(ev.data)); } catch (e) { /* skip a bad event */ } };
    es.addEventListener("incident", parse(upsertIncident));
    es.addEventListener("position", parse(upsertVessel));
  }

  function startPolling() {
    // `since` filters on observed_at, so a late report of an older observation would slip past
    // it; the newest page by observation is asked for instead and merged by version.
    setLive("polling");
    const tick = async () => {
      try { await loadIncidents(); setLive("polling"); } catch (e) { setLive("offline"); }
      setTimeout(tick, POLL_MS);
    };
    setTimeout(tick, POLL_MS);
  }

  // --- start ----------------------------------------------------------------------------
  buildChecks($("filter-category"), CATEGORIES, "cat");
  buildChecks($("filter-status"), STATUSES, "st");
  $("filter-origin").addEventListener("change", () => applyFilter());
  $("filter-window").addEventListener("change", () => applyFilter());
  $("replay").addEventListener("input", () => { renderReplay(); applyFilter(); });
  $("replay-live").addEventListener("click", () => {
    $("replay").value = "0";
    renderReplay();
    applyFilter();
  });
  $("vessel-close").addEventListener("click", closeVessel);
  // The window moves with the clock: what has aged out of it leaves the map.
  setInterval(() => { renderReplay(); applyFilter(); }, MINUTE_MS);
  $("lang").addEventListener("change", (ev) => {
    lang = dict[ev.target.value] ? ev.target.value : "en";
    localStorage.setItem("mdx.lang", lang);
    applyLanguage();
  });
  applyLanguage();
  refreshPartners();
  setInterval(refreshPartners, PARTNERS_MS);
  function ready() {
    // Two frames: the markers added by the first picture have been laid out and painted.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.mdxReady = performance.now();
      document.body.dataset.ready = "true";
    }));
  }
  // ?live=poll forces the polling fallback (for nodes behind proxies that break SSE, and tests).
  const forcePoll = new URLSearchParams(location.search).get("live") === "poll";
  // The stream ships with the map (same node, same version): no need to ask whether it exists.
  if (!forcePoll) startStream();
  else {
    loadPicture().catch(() => setLive("offline")).finally(ready);
    startPolling();
  }
})();
