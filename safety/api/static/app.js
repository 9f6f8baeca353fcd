// feedguard review page: a little vanilla JS, no dependencies.
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);

  async function api(method, url, body) {
    const res = await fetch(url, {
      method, credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error((data && (data.detail || data.title)) || res.statusText);
    return data;
  }

  // Per-user wellness setting.
  const blurPref = $("#blur-pref");
  if (blurPref) blurPref.addEventListener("change", async () => {
    await api("PATCH", "/v1/me/settings", { blur_sensitive: blurPref.checked });
    location.reload();
  });

  // Queue: j/k to move, Enter to open, click a row to open.
  const rows = Array.from(document.querySelectorAll("table.queue tbody tr[data-href]"));
  let sel = -1;
  const select = (i) => { rows.forEach((r) => r.classList.remove("selected")); sel = i; if (rows[i]) rows[i].classList.add("selected"); };
  rows.forEach((r, i) => r.addEventListener("click", (e) => { if (e.target.tagName !== "A") location.href = r.dataset.href; }));

  // Item page.
  const item = $("#item");
  const status = $("#status");
  // ok: true (done), false (error), null (in progress)
  const say = (msg, ok) => {
    if (status) { status.textContent = msg; status.className = "status " + (ok === null ? "busy" : ok ? "ok" : "err"); }
  };
  const strip = $("#filmstrip");
  if (strip) strip.addEventListener("click", (e) => {
    const fr = e.target.closest(".frame"); if (fr) fr.classList.toggle("revealed");
  });

  async function claim() {
    const it = await api("POST", `/v1/review/items/${item.dataset.item}/claim`);
    $("#lease").textContent = `leased to you until ${new Date(it.lease_expires_at).toLocaleTimeString()}`;
    return it;
  }

  async function decide(action) {
    const reasons = Array.from(($("#reasons") || { selectedOptions: [] }).selectedOptions).map((o) => o.value);
    const body = { action, reasons, note: ($("#note") || {}).value || null };
    if (action === "approve" || action === "overturn") body.audience = $("#audience").value;
    try {
      await claim();
      say("Working…", null);
      const d = await api("POST", `/v1/review/items/${item.dataset.item}/decision`, body);
      say(`Done: ${d.action}${d.audience ? " (" + d.audience + ")" : ""}. Decision ${d.id}.`, true);
      document.querySelectorAll("#decide button:not(#next)").forEach((b) => (b.disabled = true));
    } catch (err) {
      say(err.message, false);
    }
  }

  function goNext() { if (item && item.dataset.next) location.href = `/ui/items/${item.dataset.next}`; else location.href = "/ui/"; }

  if (item && item.dataset.status !== "decided") {
    const bind = (id) => { const b = $(id); if (b) b.addEventListener("click", () => decide(b.dataset.action)); };
    ["#approve", "#reject", "#escalate", "#keep"].forEach(bind);
    const c = $("#claim"); if (c) c.addEventListener("click", () => claim().then(() => say("Claimed.", true), (e) => say(e.message, false)));
  }
  const n = $("#next"); if (n) n.addEventListener("click", goNext);

  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select") || e.metaKey || e.ctrlKey || e.altKey) return;
    if (item) {
      const click = (id) => { const b = $(id); if (b && !b.disabled) b.click(); };
      if (e.key === "a") click("#approve");
      else if (e.key === "r") click("#reject");
      else if (e.key === "e") click("#escalate");
      else if (e.key === "n") goNext();
      return;
    }
    if (rows.length) {
      if (e.key === "j") select(Math.min(rows.length - 1, sel + 1));
      else if (e.key === "k") select(Math.max(0, sel - 1));
      else if (e.key === "Enter" && rows[sel]) location.href = rows[sel].dataset.href;
    }
  });
})();
