// The staff page: the handoff queue and one conversation, over the staff routes of the v1 API.
// Safety: text only ever goes into the page through textContent, never as HTML.
// The page's words live in staff.html (data-* attributes and markup); this file is mechanism.
// The browser sends the staff key itself (HTTP Basic, asked for once) when the server has one.
"use strict";

(() => {
  const words = document.body.dataset;
  const stateWords = JSON.parse(words.states);
  const roleWords = JSON.parse(words.roles);
  const queue = document.getElementById("queue");
  const problem = document.getElementById("problem");
  const nameInput = document.getElementById("staff-name");
  const view = document.getElementById("conversation");
  const log = document.getElementById("log");
  const replyForm = document.getElementById("reply");
  const replyText = document.getElementById("reply-text");
  const buttons = {
    claim: document.getElementById("claim"),
    release: document.getElementById("release"),
    resolve: document.getElementById("resolve"),
    send: document.getElementById("send"),
  };

  const NAME_KEY = "chatbot.staffName";
  const QUEUE_EVERY_MS = 3000;
  const RETRY_MS = 3000;
  let openId = null;       // the conversation shown
  let shown = 0;           // how many of its messages are on the page
  let handoff = null;      // its handoff as last read

  class ApiError extends Error {
    constructor(status, message) {
      super(message || String(status));
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (networkError) {
      throw new ApiError(0, words.offline);
    }
    let data = null;
    try { data = await response.json(); } catch (notJson) { data = null; }
    if (!response.ok) throw new ApiError(response.status, data && data.error);
    return data;
  }

  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
  const fill = (template, staff) => template.replace("{staff}", staff || "");

  function showProblem(text) {
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  function failed(error) {
    showProblem(error.status === 0 ? error.message : words.failed.replace("{error}", error.message));
  }

  // -- the queue --------------------------------------------------------------------------------
  function queueItem(entry) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.id = entry.id;
    if (entry.id === openId) button.setAttribute("aria-current", "true");
    const state = document.createElement("span");
    state.className = "item-state " + entry.state;
    state.textContent = fill(stateWords[entry.state], entry.staff);
    const since = document.createElement("span");
    since.className = "item-since";
    since.textContent = new Date(entry.since || entry.at).toLocaleString();
    const reason = document.createElement("span");
    reason.className = "item-reason";
    reason.textContent = (entry.text || "").split("\n")[0];
    const facts = document.createElement("span");
    facts.className = "item-facts";
    facts.textContent = Object.entries(entry.facts || {})
      .map(([name, value]) => `${name.replaceAll("_", " ")}: ${Array.isArray(value) ? value.join(", ") : value}`)
      .join(" · ");
    button.append(state, since, reason, facts);
    item.append(button);
    return item;
  }

  async function refreshQueue() {
    const data = await api("GET", "v1/handoffs?state=waiting,claimed");
    const items = data.handoffs.map(queueItem);
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "hint";
      empty.textContent = words.empty;
      items.push(empty);
    }
    queue.replaceChildren(...items);
  }

  async function watchQueue() {
    for (;;) {
      try {
        await refreshQueue();
        if (problem.textContent === words.offline) showProblem("");
      } catch (error) {
        failed(error);
      }
      await sleep(QUEUE_EVERY_MS);
    }
  }

  // -- one conversation -------------------------------------------------------------------------
  function showMessage(message) {
    const box = document.createElement("div");
    box.className = "message " + message.role;
    const who = document.createElement("p");
    who.className = "who-said";
    who.textContent = fill(roleWords[message.role] || message.role, message.staff);
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = message.text;
    box.append(who, text);
    log.append(box);
    box.scrollIntoView({ block: "nearest" });
  }

  function showFacts(facts) {
    const list = document.getElementById("facts");
    const rows = [];
    for (const [name, value] of Object.entries(facts || {})) {
      const term = document.createElement("dt");
      term.textContent = name.replaceAll("_", " ");
      const detail = document.createElement("dd");
      detail.textContent = Array.isArray(value) ? value.join(", ") : String(value);
      rows.push(term, detail);
    }
    if (!rows.length) {
      const none = document.createElement("dd");
      none.textContent = words.noFacts;
      rows.push(none);
    }
    list.replaceChildren(...rows);
  }

  function showHandoff(data) {
    handoff = { state: data.state, staff: data.staff };
    document.getElementById("state").textContent = fill(stateWords[data.state], data.staff);
    if (data.text !== undefined) document.getElementById("reason").textContent = data.text || "";
    if (data.facts !== undefined) showFacts(data.facts);
    if (data.contact !== undefined) {
      const contact = document.getElementById("contact");
      const given = data.contact && [data.contact.name, data.contact.phone, data.contact.email].filter(Boolean);
      contact.textContent = given ? words.contact.replace("{contact}", given.join(" · ")) : "";
      contact.hidden = !given;
    }
    const claimed = data.state === "claimed";
    buttons.claim.disabled = data.state !== "waiting";
    buttons.release.disabled = !(claimed || data.state === "waiting");
    buttons.resolve.disabled = !(claimed || data.state === "waiting");
    buttons.send.disabled = !claimed;
    replyText.disabled = !claimed;
  }

  async function open(id) {
    openId = id;
    shown = 0;
    log.replaceChildren();
    showProblem("");
    for (const button of queue.querySelectorAll("button")) {
      if (button.dataset.id === id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
    const data = await api("GET", `v1/handoffs/${encodeURIComponent(id)}`);
    if (openId !== id) return;
    view.hidden = false;
    showHandoff(data);
    for (const message of data.transcript) showMessage(message);
    shown = data.transcript.length;
    follow(id);
  }

  async function follow(id) {
    // Long polling: the server answers when a message arrives or the handoff changes, or after a
    // while with nothing new; then ask again, for as long as this conversation is the one open.
    while (openId === id) {
      try {
        const data = await api("GET", `v1/handoffs/${encodeURIComponent(id)}/updates` +
                                      `?after=${shown}&state=${handoff.state}`);
        if (openId !== id) return;
        for (const message of data.messages) showMessage(message);
        shown += data.messages.length;
        showHandoff(data.handoff);
      } catch (error) {
        if (error.status === 404) {
          showProblem(words.gone);
          return;
        }
        failed(error);
        await sleep(RETRY_MS);
      }
    }
  }

  function staffName() {
    const name = nameInput.value.trim();
    if (!name) {
      showProblem(words.needName);
      nameInput.focus();
    }
    return name;
  }

  async function act(action) {
    const name = staffName();
    if (!name || !openId) return;
    showProblem("");
    try {
      showHandoff(await api("POST", `v1/handoffs/${encodeURIComponent(openId)}/${action}`, { staff: name }));
      refreshQueue().catch(failed);
      if (action === "claim") replyText.focus();
    } catch (error) {
      failed(error);
    }
  }

  async function reply(text) {
    if (!openId || !text.trim()) return;
    buttons.send.disabled = true;
    try {
      await api("POST", `v1/sessions/${encodeURIComponent(openId)}/staff-messages`, { text });
      replyText.value = "";   // the message itself comes back through follow(), once
      showProblem("");
    } catch (error) {
      failed(error);
    } finally {
      buttons.send.disabled = !(handoff && handoff.state === "claimed");
      replyText.focus();
    }
  }

  // -- wiring ----------------------------------------------------------------------------------
  nameInput.value = localStorage.getItem(NAME_KEY) || "";
  nameInput.addEventListener("change", () => localStorage.setItem(NAME_KEY, nameInput.value.trim()));
  document.getElementById("who").addEventListener("submit", (event) => event.preventDefault());
  queue.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-id]");
    if (button) open(button.dataset.id).catch(failed);
  });
  buttons.claim.addEventListener("click", () => act("claim"));
  buttons.release.addEventListener("click", () => act("release"));
  buttons.resolve.addEventListener("click", () => act("resolve"));
  replyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    reply(replyText.value);
  });
  replyText.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      replyForm.requestSubmit();
    }
  });

  document.body.classList.add("ready");
  watchQueue();
})();
