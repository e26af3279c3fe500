// Operator actions on the selected incident, shown under its details.
// At the incident's origin: change its status (a partner's incident changes only there), and on
// a SAR case ask a partner for assistance, send status updates and SITREPs.
// At a node asked for assistance on a partner's SAR case: acknowledge, assign an asset, send
// status updates and numbered SITREPs (the server numbers them; the form shows the next one).
// Everything goes through the node's API, so the same schema and policy judge it as any report;
// the server's problem is shown as it comes, under the field its `errors[].path` names.
// Kept apart from map.js: it only watches which incident the details panel shows
// (#details[data-incident-id]) and, when the timeline has new steps (one of ours, or a
// partner's seen by polling), fires `mdx:timeline` on #details so the map reloads it.
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
      "sar.title": "SAR coordination",
      "sar.asked": "Assistance requested by {origin} from this node ({me}).",
      "sar.ack": "Acknowledge",
      "sar.acked": "Acknowledged",
      "sar.asset": "Assign an asset",
      "asset.name": "Name",
      "asset.type": "Type",
      "asset.call_sign": "Call sign",
      "asset.vessel": "Vessel",
      "asset.boat": "Boat",
      "asset.aircraft": "Fixed-wing aircraft",
      "asset.helicopter": "Helicopter",
      "asset.shore-team": "Shore team",
      "sar.assign": "Assign",
      "sar.status": "Status update",
      "sar.status.text": "Situation in brief",
      "sar.status.send": "Send",
      "sitrep.title": "SITREP no. {n}",
      "sitrep.identity": "Identity of casualty",
      "sitrep.situation": "Situation",
      "sitrep.here": "At the incident's position",
      "sitrep.persons": "Persons at risk",
      "sitrep.assistance": "Assistance required",
      "sitrep.centre": "Coordinating centre",
      "sitrep.send": "File SITREP",
      "sitrep.filed": "SITREP no. {n} filed.",
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
      "sar.title": "捜索救助の調整",
      "sar.asked": "{origin}から本ノード（{me}）に支援要請があります。",
      "sar.ack": "受領確認",
      "sar.acked": "受領確認済み",
      "sar.asset": "勢力の割当",
      "asset.name": "名称",
      "asset.type": "種別",
      "asset.call_sign": "呼出符号",
      "asset.vessel": "船舶",
      "asset.boat": "小型艇",
      "asset.aircraft": "固定翼機",
      "asset.helicopter": "ヘリコプター",
      "asset.shore-team": "陸上班",
      "sar.assign": "割当",
      "sar.status": "状況の通報",
      "sar.status.text": "現在の状況",
      "sar.status.send": "送信",
      "sitrep.title": "状況報告（SITREP）第{n}報",
      "sitrep.identity": "遭難船舶等の識別",
      "sitrep.situation": "状況",
      "sitrep.here": "事案の位置を報告する",
      "sitrep.persons": "要救助者数",
      "sitrep.assistance": "必要な支援",
      "sitrep.centre": "調整本部",
      "sitrep.send": "SITREPを送信",
      "sitrep.filed": "SITREP第{n}報を送信しました。",
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
      "sar.title": "수색구조 조정",
      "sar.asked": "{origin}의 지원 요청이 이 노드({me})에 접수되었습니다.",
      "sar.ack": "접수 확인",
      "sar.acked": "접수 확인됨",
      "sar.asset": "세력 배정",
      "asset.name": "명칭",
      "asset.type": "종류",
      "asset.call_sign": "호출부호",
      "asset.vessel": "선박",
      "asset.boat": "단정",
      "asset.aircraft": "고정익기",
      "asset.helicopter": "헬기",
      "asset.shore-team": "육상 구조팀",
      "sar.assign": "배정",
      "sar.status": "상황 통보",
      "sar.status.text": "현재 상황",
      "sar.status.send": "전송",
      "sitrep.title": "상황 보고(SITREP) 제{n}보",
      "sitrep.identity": "조난 선박 등 식별",
      "sitrep.situation": "상황",
      "sitrep.here": "사건 위치로 보고",
      "sitrep.persons": "구조 대상자 수",
      "sitrep.assistance": "필요한 지원",
      "sitrep.centre": "조정 본부",
      "sitrep.send": "SITREP 전송",
      "sitrep.filed": "SITREP 제{n}보를 전송했습니다.",
    },
  };
  const STATUSES = ["reported", "acknowledged", "responding", "resolved", "closed"];
  const ASSET_TYPES = ["vessel", "boat", "aircraft", "helicopter", "shore-team"];
  const POLL_MS = 5000; // a partner's steps reach this node with no stream event: look for them

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

  // --- forms and the server's problems ----------------------------------------------------

  // A labelled input with the slot for its errors; `path` is its JSON pointer in the body.
  function field(form, label, input, path) {
    input.dataset.path = path;
    const wrap = el("label");
    wrap.append(el("span", label), input);
    form.append(wrap, el("p", "", { class: "field-error", "data-error-for": path }));
    return input;
  }

  function clear(form, message) {
    for (const e of form.querySelectorAll(".field-error")) e.replaceChildren();
    for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
    message.replaceChildren();
    delete message.dataset.ok;
  }

  function say(message, text, ok) {
    message.appendChild(el("span", text));
    message.dataset.ok = String(ok);
  }

  // The input an error belongs to: by `path` (/sitrep/situation, or deeper), by a request
  // parameter (sitrep.situation), or, for a `required` rule at the parent, by the name it gives.
  function inputFor(form, err) {
    let path = typeof err.path === "string" ? err.path : "";
    if (!path && err.parameter) path = `/${String(err.parameter).replace(/\./g, "/")}`;
    const inputs = [...form.querySelectorAll("[data-path]")];
    const hit = inputs.find((i) => path === i.dataset.path || path.startsWith(`${i.dataset.path}/`));
    if (hit || err.keyword !== "required") return hit || null;
    const text = String(err.message || "");
    return inputs.find((i) => {
      const at = i.dataset.path.lastIndexOf("/");
      const name = i.dataset.path.slice(at + 1);
      return i.dataset.path.slice(0, at) === path && (text.includes(`"${name}"`) || text.includes(`'${name}'`));
    }) || null;
  }

  async function showProblem(form, message, response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* not problem+json: the status line says it */
    }
    say(message, (body && body.detail) || `${response.status} ${response.statusText}`, false);
    for (const err of (body && Array.isArray(body.errors) ? body.errors : [])) {
      const input = inputFor(form, err);
      const text = String(err.message || "");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        const slot = form.querySelector(`[data-error-for="${CSS.escape(input.dataset.path)}"]`);
        if (slot.childNodes.length) slot.appendChild(el("br"));
        slot.appendChild(el("span", text));
      } else {
        const where = err.path || err.parameter;
        message.append(el("br"), el("span", where ? `${where}: ${text}` : text));
      }
    }
  }

  // Submit `body()` with `method` to `url`; the button is held while the node answers, so one
  // click is one step (a SITREP sent twice would take two numbers). On success `onDone(answer)`
  // may clear the form and give the message; the timeline is then read again.
  function wire(form, message, url, method, body, onDone) {
    form.setAttribute("novalidate", "");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clear(form, message);
      const buttons = [...form.querySelectorAll("button")];
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const r = await fetch(url, {
          method,
          headers: { "Content-Type": "application/json", Accept: "application/json, application/problem+json" },
          body: JSON.stringify(body()),
        });
        if (r.ok) {
          const answer = await r.json().catch(() => ({}));
          say(message, onDone ? onDone(answer) || t("done") : t("done"), true);
          await refresh(true).catch(() => {});
        } else {
          await showProblem(form, message, r);
        }
      } catch (e) {
        say(message, String(e), false);
      } finally {
        buttons.forEach((b) => { b.disabled = b.dataset.held === "true"; });
      }
    });
  }

  const trimmed = (input) => input.value.trim();

  // --- what the timeline says about this node ---------------------------------------------

  function stateOf(timeline, me) {
    const mine = timeline.filter((e) => e.by === me);
    const numbers = mine.filter((e) => e.type === "sitrep").map((e) => Number(e.number) || 0);
    return {
      asked: timeline.some((e) => e.type === "assistance-requested" && e.to === me),
      acked: mine.some((e) => e.type === "acknowledged"),
      // The server numbers a node's SITREPs from its last one: this is the one it will give.
      next: 1 + Math.max(0, ...numbers),
      seen: JSON.stringify(timeline.map((e) => [e.type, e.by, e.at, e.number, e.version])),
    };
  }

  let current = null; // {id, me, seen, apply(state), poll} for the incident shown
  let renders = 0;

  async function fetchTimeline(id) {
    const r = await fetch(`/api/v1/incidents/${encodeURIComponent(id)}/timeline`);
    return r.ok ? (await r.json()).timeline || [] : null;
  }

  // Read the timeline again; when it changed (or `ours` says we just added to it), update the
  // forms and let the map show the new steps.
  async function refresh(ours = false) {
    const shown = current;
    if (!shown) return;
    if (!shown.poll && !ours) return;
    const timeline = await fetchTimeline(shown.id).catch(() => null);
    if (!timeline || current !== shown) return;
    const state = stateOf(timeline, shown.me);
    if (state.seen === shown.seen && !ours) return;
    shown.seen = state.seen;
    shown.apply(state);
    const details = document.getElementById("details");
    details.dispatchEvent(new CustomEvent("mdx:timeline", { detail: { id: shown.id } }));
  }

  // --- the panel ------------------------------------------------------------------------

  async function render(section, id) {
    const token = ++renders;
    current = null;
    section.replaceChildren(el("h3", t("actions")));
    const base = `/api/v1/incidents/${encodeURIComponent(id)}`;
    // The node's own id and its partners come with the link-health answer.
    const [incident, node, timeline] = await Promise.all([
      fetch(base).then((r) => (r.ok ? r.json() : null)),
      fetch("/api/v1/partners").then((r) => (r.ok ? r.json() : null)),
      fetchTimeline(id).catch(() => null),
    ]);
    if (!incident || token !== renders || document.getElementById("details").dataset.incidentId !== id) return;
    const me = node ? node.node : null;
    const p = incident.properties;
    const atOrigin = Boolean(me) && p.origin === me;
    const message = el("p", "", { id: "actions-message", class: "form-message", role: "status" });

    if (me && !atOrigin) {
      section.appendChild(el("p", t("only.origin", { origin: p.origin }), { class: "note" }));
    } else {
      const form = el("form", undefined, { id: "status-form" });
      const select = el("select", undefined, { name: "status", "aria-label": t("status.change") });
      for (const s of STATUSES) {
        const option = el("option", t(`st.${s}`), { value: s });
        if (s === p.status) option.selected = true;
        select.appendChild(option);
      }
      field(form, t("status.change"), select, "/status");
      form.appendChild(el("button", t("status.apply"), { type: "submit" }));
      wire(form, message, base, "PATCH", () => ({ status: select.value }));
      section.appendChild(form);
    }

    if (p.category === "sar" && atOrigin && node.partners.length) {
      const form = el("form", undefined, { id: "sar-form" });
      const to = el("select", undefined, { name: "to", "aria-label": t("sar.request") });
      for (const partner of node.partners) to.appendChild(el("option", partner.id, { value: partner.id }));
      field(form, t("sar.request"), to, "/to");
      const text = el("input", undefined, { name: "text", placeholder: t("sar.text"), maxlength: "2000" });
      field(form, t("sar.text"), text, "/text");
      form.appendChild(el("button", t("sar.send"), { type: "submit" }));
      wire(form, message, `${base}/sar`, "POST", () => {
        const body = { kind: "assistance-requested", to: to.value };
        if (trimmed(text)) body.text = trimmed(text);
        return body;
      }, () => {
        text.value = "";
      });
      section.appendChild(form);
    }
    section.appendChild(message);

    // SAR coordination: at the origin always; elsewhere once this node has been asked.
    let apply = () => {};
    if (p.category === "sar" && me) {
      const block = el("div", undefined, { id: "sar-coordination" });
      block.appendChild(el("h4", t("sar.title")));
      if (!atOrigin) block.appendChild(el("p", t("sar.asked", { origin: p.origin, me }), { class: "note" }));
      const steps = `${base}/sar`;
      const ack = atOrigin ? null : ackForm(steps);
      const asset = atOrigin ? null : assetForm(steps);
      const status = statusForm(steps);
      const sitrep = sitrepForm(steps, incident.geometry);
      for (const part of [ack, asset, status, sitrep]) if (part) block.appendChild(part.form);
      section.appendChild(block);
      apply = (state) => {
        block.hidden = !atOrigin && !state.asked;
        if (ack) ack.set(state.acked);
        sitrep.set(state.next);
      };
    }
    current = { id, me, seen: null, apply, poll: p.category === "sar" };
    const state = stateOf(timeline || [], me);
    current.seen = timeline ? state.seen : null;
    apply(state);
  }

  function stepForm(id, title) {
    const form = el("form", undefined, { id, class: "sar-step" });
    const heading = el("h5", title);
    if (title) form.appendChild(heading);
    const message = el("p", "", { id: `${id}-message`, class: "form-message", role: "status" });
    return { form, heading, message };
  }

  function ackForm(url) {
    const { form, message } = stepForm("sar-ack-form", null); // the button says it all
    const button = el("button", t("sar.ack"), { type: "submit" });
    form.append(button, message);
    wire(form, message, url, "POST", () => ({ kind: "acknowledged" }));
    return {
      form,
      set(acked) {
        button.dataset.held = String(acked);
        button.disabled = acked;
        button.textContent = t(acked ? "sar.acked" : "sar.ack");
      },
    };
  }

  function assetForm(url) {
    const { form, message } = stepForm("sar-asset-form", t("sar.asset"));
    const name = field(form, t("asset.name"), el("input", undefined, { name: "name", maxlength: "120" }), "/asset/name");
    const type = el("select", undefined, { name: "type" });
    for (const a of ASSET_TYPES) type.appendChild(el("option", t(`asset.${a}`), { value: a }));
    field(form, t("asset.type"), type, "/asset/type");
    const callSign = field(
      form, t("asset.call_sign"), el("input", undefined, { name: "call_sign", maxlength: "20" }), "/asset/call_sign",
    );
    form.append(el("button", t("sar.assign"), { type: "submit" }), message);
    wire(form, message, url, "POST", () => {
      const asset = { name: trimmed(name), type: type.value };
      if (trimmed(callSign)) asset.call_sign = trimmed(callSign);
      return { kind: "asset-assigned", asset };
    }, () => {
      name.value = "";
      callSign.value = "";
    });
    return { form };
  }

  function statusForm(url) {
    const { form, message } = stepForm("sar-status-form", t("sar.status"));
    const text = field(
      form, t("sar.status.text"), el("input", undefined, { name: "status", maxlength: "500" }), "/status",
    );
    form.append(el("button", t("sar.status.send"), { type: "submit" }), message);
    wire(form, message, url, "POST", () => ({ kind: "status", status: trimmed(text) }), () => {
      text.value = "";
    });
    return { form };
  }

  function sitrepForm(url, geometry) {
    const { form, heading, message } = stepForm("sar-sitrep-form", t("sitrep.title", { n: 1 }));
    const input = (name, max) => el("input", undefined, { name, maxlength: max });
    const identity = field(form, t("sitrep.identity"), input("identity", "200"), "/sitrep/identity");
    const situation = field(
      form, t("sitrep.situation"), el("textarea", undefined, { name: "situation", rows: "3", maxlength: "4000" }),
      "/sitrep/situation",
    );
    // The incident's position, if it is a point (an area has no one position to report).
    const point = geometry && geometry.type === "Point" ? geometry : null;
    const here = el("input", undefined, { type: "checkbox", name: "at_incident" });
    here.checked = Boolean(point);
    if (!point) here.disabled = true;
    const hereLabel = el("label", undefined, { class: "check" });
    hereLabel.append(here, " ", el("span", t("sitrep.here")));
    here.dataset.path = "/sitrep/position";
    form.append(hereLabel, el("p", "", { class: "field-error", "data-error-for": "/sitrep/position" }));
    const persons = field(
      form, t("sitrep.persons"), el("input", undefined, { name: "persons_at_risk", type: "number", min: "0", step: "1" }),
      "/sitrep/persons_at_risk",
    );
    const assistance = field(form, t("sitrep.assistance"), input("assistance_required", "2000"), "/sitrep/assistance_required");
    const centre = field(form, t("sitrep.centre"), input("coordinating_centre", "200"), "/sitrep/coordinating_centre");
    form.append(el("button", t("sitrep.send"), { type: "submit" }), message);
    // The number is the server's to give (the next of this node's); the form never sends one.
    wire(form, message, url, "POST", () => {
      const sitrep = { identity: trimmed(identity), situation: trimmed(situation) };
      if (here.checked && point) sitrep.position = { type: "Point", coordinates: point.coordinates };
      if (persons.value !== "") sitrep.persons_at_risk = Number(persons.value);
      if (trimmed(assistance)) sitrep.assistance_required = trimmed(assistance);
      if (trimmed(centre)) sitrep.coordinating_centre = trimmed(centre);
      return { kind: "sitrep", sitrep };
    }, (answer) => {
      situation.value = "";
      assistance.value = "";
      return answer.number ? t("sitrep.filed", { n: answer.number }) : null;
    });
    return {
      form,
      set(next) {
        heading.textContent = t("sitrep.title", { n: next });
        form.dataset.next = String(next);
      },
    };
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
      if (!id) {
        section.replaceChildren();
        current = null;
      }
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
    setInterval(() => refresh().catch(() => {}), POLL_MS);
    update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})();
