// Operator actions on the selected incident, shown under its details: change its status (only
// at the incident's origin: a partner's incident changes only there) and, on a SAR case, ask a
// partner for assistance. Both go through the node's API, so the same schema and policy judge
// them as any report; the server's reason is shown as it comes. Kept apart from map.js: it
// only watches which incident the details panel shows (#details[data-incident-id]).
"use strict";

(() => {
  const STRINGS = {
    en: {
      actions: "Actions",
      "status.change": "Change status",
      "status.apply": "Update",
      "sar.request": "Request assistance from",
      "sar.send": "Request",
      "sar.text": "What is needed",
      "only.origin": "Only the origin node ({origin}) can change this incident.",
      done: "Done.",
    },
    ja: {
      actions: "操作",
      "status.change": "状態の変更",
      "status.apply": "更新",
      "sar.request": "支援を要請する相手",
      "sar.send": "要請",
      "sar.text": "必要な支援",
      "only.origin": "この事案を変更できるのは発信元のノード（{origin}）だけです。",
      done: "完了しました。",
    },
    ko: {
      actions: "조치",
      "status.change": "상태 변경",
      "status.apply": "변경",
      "sar.request": "지원 요청 대상",
      "sar.send": "요청",
      "sar.text": "필요한 지원",
      "only.origin": "이 사건은 발신 노드({origin})만 변경할 수 있습니다.",
      done: "완료되었습니다.",
    },
  };
  const STATUSES = ["reported", "acknowledged", "responding", "resolved", "closed"];

  // The panel's own strings; status names are the map's (i18n.js), not a second copy.
  const t = (key, vars = {}) => {
    const lang = document.documentElement.lang;
    const shared = window.MDX_I18N || {};
    const table = { ...(shared.en || {}), ...STRINGS.en, ...(shared[lang] || {}), ...STRINGS[lang] };
    const text = table[key] || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };

  const el = (tag, text, attrs = {}) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    return node;
  };

  async function problem(response) {
    try {
      const body = await response.json();
      const first = (body.errors || [])[0];
      return first && first.message ? `${body.detail} (${first.message})` : body.detail;
    } catch {
      return `${response.status} ${response.statusText}`;
    }
  }

  async function render(section, id) {
    section.replaceChildren(el("h3", t("actions")));
    // The node's own id and its partners come with the link-health answer.
    const [incident, node] = await Promise.all([
      fetch(`/api/v1/incidents/${id}`).then((r) => (r.ok ? r.json() : null)),
      fetch("/api/v1/partners").then((r) => (r.ok ? r.json() : null)),
    ]);
    if (!incident || document.getElementById("details").dataset.incidentId !== id) return;
    const me = node ? node.node : null;
    const p = incident.properties;
    const message = el("p", "", { id: "actions-message", class: "small", role: "status" });

    if (me && p.origin !== me) {
      section.appendChild(el("p", t("only.origin", { origin: p.origin }), { class: "small" }));
    } else {
      const form = el("form", undefined, { id: "status-form" });
      const select = el("select", undefined, { name: "status", "aria-label": t("status.change") });
      for (const s of STATUSES) {
        const option = el("option", t(`st.${s}`), { value: s });
        if (s === p.status) option.selected = true;
        select.appendChild(option);
      }
      form.append(el("label", t("status.change")), select, el("button", t("status.apply"), { type: "submit" }));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const r = await fetch(`/api/v1/incidents/${id}`, {
          method: "PATCH",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ status: select.value }),
        });
        message.textContent = r.ok ? t("done") : await problem(r);
        message.dataset.ok = String(r.ok);
      });
      section.appendChild(form);
    }

    if (p.category === "sar" && me && p.origin === me && node.partners.length) {
      const form = el("form", undefined, { id: "sar-form" });
      const to = el("select", undefined, { name: "to", "aria-label": t("sar.request") });
      for (const partner of node.partners) to.appendChild(el("option", partner.id, { value: partner.id }));
      const text = el("input", undefined, { name: "text", placeholder: t("sar.text"), maxlength: "2000" });
      form.append(el("label", t("sar.request")), to, text, el("button", t("sar.send"), { type: "submit" }));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const body = { kind: "assistance-requested", to: to.value };
        if (text.value) body.text = text.value;
        const r = await fetch(`/api/v1/incidents/${id}/sar`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        message.textContent = r.ok ? t("done") : await problem(r);
        message.dataset.ok = String(r.ok);
      });
      section.appendChild(form);
    }
    section.appendChild(message);
  }

  function watch() {
    const details = document.getElementById("details");
    if (!details) return;
    const section = el("section", undefined, { id: "details-actions" });
    details.appendChild(section);
    let shown = null;
    const update = () => {
      const id = details.hidden ? null : details.dataset.incidentId || null;
      if (id && id !== shown) render(section, id).catch(() => {});
      if (!id) section.replaceChildren();
      shown = id;
    };
    new MutationObserver(update).observe(details, {
      attributes: true,
      attributeFilter: ["hidden", "data-incident-id"],
    });
    new MutationObserver(() => shown && render(section, shown).catch(() => {})).observe(
      document.documentElement,
      { attributes: true, attributeFilter: ["lang"] },
    );
    update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})();
