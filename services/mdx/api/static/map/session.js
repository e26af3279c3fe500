// The operator's session: a login form whenever the API answers 401, the account in the top
// bar, and a logout button. Loaded before map.js so that it sees every data call.
// The token itself lives in an HttpOnly cookie this script cannot read (nor can anything an
// attacker injects); the browser sends it with every same-origin request and the stream.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const t = (key) => {
    const dict = window.MDX_I18N;
    const lang = document.documentElement.lang;
    return (dict[lang] && dict[lang][key]) || dict.en[key] || key;
  };
  const nativeFetch = window.fetch.bind(window);

  function showLogin(reason) {
    const box = $("login");
    if (!box.hidden) return;
    $("login-error").textContent = reason ? t(reason) : "";
    box.hidden = false;
    $("login-username").focus();
  }

  // Every call of the page goes through here: a 401 from this node means the session is gone.
  window.fetch = async (input, init) => {
    const response = await nativeFetch(input, init);
    const url = new URL(typeof input === "string" ? input : input.url, location.href);
    if (response.status === 401 && url.origin === location.origin && !url.pathname.startsWith("/auth/")) {
      showLogin(document.body.dataset.user ? "login.expired" : "");
    }
    return response;
  };

  async function logIn(ev) {
    ev.preventDefault();
    const form = new URLSearchParams({ username: $("login-username").value, password: $("login-password").value });
    $("login-error").textContent = "";
    const r = await nativeFetch("/auth/token", { method: "POST", body: form });
    if (r.ok) {
      // Everything restarts with the cookie set: the picture, the stream, the partner links.
      location.reload();
      return;
    }
    $("login-password").value = "";
    $("login-error").textContent = t(r.status === 429 ? "login.throttled" : "login.failed");
  }

  async function logOut() {
    await nativeFetch("/auth/logout", { method: "POST" });
    location.reload();
  }

  async function whoAmI() {
    const r = await nativeFetch("/auth/me");
    if (!r.ok) { showLogin(""); return; }
    const me = await r.json();
    document.body.dataset.user = me.name;
    document.body.dataset.role = me.role;
    $("session-user").textContent = `${me.name} (${me.role})`;
    $("session").hidden = false;
  }

  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  whoAmI();
})();
