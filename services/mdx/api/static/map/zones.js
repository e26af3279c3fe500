// The zones this node watches (GET /api/v1/zones), as two overlays of the operator's map: the
// node's own zones of interest and its partners' areas of responsibility, each switchable in a
// layers control. Kept apart from map.js: it needs only the map (window.mdxMap). Zone data is
// put in the page with textContent, never parsed as HTML.
"use strict";

(() => {
  const STRINGS = {
    en: {
      own: "Own zones of interest",
      partners: "Partner areas of responsibility",
      "kind.eez": "EEZ-like zone",
      "kind.territorial_sea": "Territorial sea",
      "kind.mpa": "Marine protected area",
      "kind.fishing_agreement": "Fishing-agreement zone",
      "kind.aor": "Area of responsibility",
      state: "State",
      parties: "Parties",
      authority: "Responsible node",
      fishing: "Fishing",
      "fishing.open": "open to all",
      "fishing.flag_state_only": "vessels of {states} only",
      "fishing.agreement_states_only": "vessels of {states} only",
      "fishing.prohibited": "prohibited",
      watch: "Watched for",
      "watch.going_dark": "AIS gaps",
      "watch.foreign_fishing": "foreign fishing",
      "watch.loitering": "loitering",
      "watch.encounter": "encounters at sea",
      none: "nothing",
      illustrative: "Simplified illustrative shape, not a legal boundary.",
    },
    ja: {
      own: "自ノードの監視海域",
      partners: "相手国の責任区域",
      "kind.eez": "排他的経済水域（相当）",
      "kind.territorial_sea": "領海",
      "kind.mpa": "海洋保護区",
      "kind.fishing_agreement": "漁業協定水域",
      "kind.aor": "責任区域",
      state: "国",
      parties: "協定の当事国",
      authority: "担当ノード",
      fishing: "漁業",
      "fishing.open": "制限なし",
      "fishing.flag_state_only": "{states}籍の船舶のみ",
      "fishing.agreement_states_only": "{states}籍の船舶のみ",
      "fishing.prohibited": "禁止",
      watch: "監視対象",
      "watch.going_dark": "AISの途絶",
      "watch.foreign_fishing": "外国漁船の操業",
      "watch.loitering": "徘徊",
      "watch.encounter": "洋上での船舶間の接触",
      none: "なし",
      illustrative: "説明用に簡略化した形で、法的な境界ではありません。",
    },
    ko: {
      own: "자국 관심 해역",
      partners: "상대국 책임 구역",
      "kind.eez": "배타적 경제수역(유사)",
      "kind.territorial_sea": "영해",
      "kind.mpa": "해양보호구역",
      "kind.fishing_agreement": "어업협정 수역",
      "kind.aor": "책임 구역",
      state: "국가",
      parties: "협정 당사국",
      authority: "담당 노드",
      fishing: "조업",
      "fishing.open": "제한 없음",
      "fishing.flag_state_only": "{states} 선적 선박만",
      "fishing.agreement_states_only": "{states} 선적 선박만",
      "fishing.prohibited": "금지",
      watch: "감시 대상",
      "watch.going_dark": "AIS 신호 끊김",
      "watch.foreign_fishing": "외국 어선 조업",
      "watch.loitering": "배회",
      "watch.encounter": "해상 선박 간 접촉",
      none: "없음",
      illustrative: "설명을 위해 단순화한 모양이며 법적 경계가 아닙니다.",
    },
  };
  // When the node's own AOR does not say which state the node serves.
  const NODE_STATE = { jcg: "JP", kcg: "KR", uscg: "US" };
  const COLOURS = { jcg: "#c62828", kcg: "#1565c0", uscg: "#ef6c00" };
  const AGREEMENT_COLOUR = "#6a1b9a";
  const OTHER_COLOUR = "#546e7a";
  const DASHES = {
    eez: "8 6",
    territorial_sea: "3 3",
    mpa: "2 5",
    fishing_agreement: "12 4 2 4",
    aor: "16 8",
  };

  const t = (key, vars = {}) => {
    const lang = document.documentElement.lang;
    const text = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };

  const el = (tag, text, attrs = {}) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    return node;
  };

  function style(zone) {
    const p = zone.properties;
    const colour = COLOURS[p.authority] || (p.kind === "fishing_agreement" ? AGREEMENT_COLOUR : OTHER_COLOUR);
    return {
      color: colour,
      weight: p.kind === "aor" ? 2.5 : 2,
      dashArray: DASHES[p.kind] || null,
      fillColor: colour,
      fillOpacity: 0.06,
      // mdx-zone: zones.css lets only the outline take clicks, so a click inside a zone still
      // reaches the map (reporting an incident there).
      className: "mdx-zone",
    };
  }

  function details(zone) {
    const p = zone.properties;
    const rules = p.rules || {};
    const box = el("div", undefined, { class: "zone-details", "data-zone-id": p.id });
    box.append(el("strong", p.name), el("div", t(`kind.${p.kind}`), { class: "note" }));
    const list = el("dl");
    const row = (label, value) => list.append(el("dt", label), el("dd", value));
    const parties = rules.agreement_states || [];
    if (p.kind === "fishing_agreement" && parties.length) row(t("parties"), parties.join(", "));
    else if (p.state) row(t("state"), p.state);
    if (p.authority) row(t("authority"), p.authority);
    if (rules.fishing) {
      const states = rules.fishing === "agreement_states_only" ? parties.join(", ") : p.state || "";
      row(t("fishing"), t(`fishing.${rules.fishing}`, { states }));
    }
    const watch = (rules.watch || []).map((w) => t(`watch.${w}`));
    row(t("watch"), watch.length ? watch.join(", ") : t("none"));
    box.appendChild(list);
    if (rules.notes) box.appendChild(el("p", rules.notes));
    if (p.illustrative) box.appendChild(el("p", t("illustrative"), { class: "note" }));
    return box;
  }

  function overlay(zones, key) {
    return L.geoJSON({ type: "FeatureCollection", features: zones }, {
      style,
      onEachFeature(zone, layer) {
        // A new <path> is made each time the overlay is switched on: tag it every time.
        layer.on("add", () => {
          const path = layer.getElement();
          path.setAttribute("data-zone-id", zone.properties.id);
          path.setAttribute("data-kind", zone.properties.kind);
          path.setAttribute("data-layer", key);
        });
        // Functions returning elements: Leaflet appends them, so no server text becomes HTML.
        layer.bindTooltip(() => el("span", zone.properties.name), { sticky: true });
        layer.bindPopup(() => details(zone), { maxWidth: 320 });
      },
    });
  }

  function split(zones, me) {
    const aor = zones.find((z) => z.properties.kind === "aor" && z.properties.authority === me);
    const myState = (aor && aor.properties.state) || NODE_STATE[me] || null;
    const own = [];
    const partners = [];
    for (const zone of zones) {
      const p = zone.properties;
      const parties = (p.rules && p.rules.agreement_states) || [];
      if (p.kind === "aor" && p.authority && p.authority !== me) partners.push(zone);
      else if (p.authority === me || (myState && (p.state === myState || parties.includes(myState)))) {
        own.push(zone);
      }
    }
    return { own, partners };
  }

  async function start() {
    const map = window.mdxMap;
    if (!map) return;
    const [collection, node] = await Promise.all([
      fetch("/api/v1/zones").then((r) => (r.ok ? r.json() : null)),
      fetch("/api/v1/partners").then((r) => (r.ok ? r.json() : null)),
    ]);
    if (!collection) return;
    const { own, partners } = split(collection.features, node ? node.node : null);
    const layers = [
      { key: "own", layer: overlay(own, "own").addTo(map) },
      { key: "partners", layer: overlay(partners, "partners").addTo(map) },
    ];
    // The control writes overlay names as HTML: they come from STRINGS above, never the server.
    const control = L.control.layers(null, null, { collapsed: false, position: "topright" });
    const label = () => {
      for (const { key, layer } of layers) {
        control.removeLayer(layer);
        control.addOverlay(layer, t(key));
      }
    };
    label();
    control.addTo(map);
    const box = control.getContainer();
    box.id = "zones-control";
    box.dataset.own = String(own.length);
    box.dataset.partners = String(partners.length);
    box.dataset.state = "ready";
    new MutationObserver(label).observe(document.documentElement, {
      attributes: true,
      attributeFilter: ["lang"],
    });
  }

  // Without zones the map still works: say why in the console, as a warning.
  const run = () => start().catch((e) => console.warn("zones not shown:", e));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
