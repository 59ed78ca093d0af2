// The web chat: talks to the v1 API of the same server, shows replies as plain text.
// Safety: message text only ever goes into the page through textContent, never as HTML.
// The page's words live in index.html (data-* attributes and markup); this file is mechanism.
"use strict";

(() => {
  const words = document.body.dataset;
  const log = document.getElementById("log");
  const form = document.getElementById("ask");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const quick = document.getElementById("quick");
  const choices = document.getElementById("choices");
  const banner = document.getElementById("handoff");
  const problem = document.getElementById("problem");
  const keyForm = document.getElementById("key");
  const extras = document.getElementById("bot-extras");
  const composer = document.getElementById("composer");
  const restartChoice = document.getElementById("restart-choice");
  const staffStatus = document.getElementById("staff-status");
  const contactForm = document.getElementById("contact");        // only with serve --ask-contact
  const contactDone = document.getElementById("contact-done");

  const SESSION_KEY = "chatbot.session";   // sessionStorage: the conversation survives a reload
  const API_KEY = "chatbot.apiKey";
  // Follow-up questions answered in words (a date), where yes / no buttons make no sense.
  const ANSWERED_IN_WORDS = new Set(["appointment_date"]);

  let sessionId = sessionStorage.getItem(SESSION_KEY);
  let sourceTexts = null;   // id -> text, fetched the first time someone opens a sources list
  let busy = false;
  let seen = 0;             // how many messages of the conversation the page has had from the server
  let handoffState = null;  // the handoff as last heard: none, waiting, claimed, resolved
  let following = null;     // the conversation whose news the page is waiting for
  let contactGiven = false; // the person has left their details in this conversation
  const CONTACT_SKIPPED = "chatbot.contactSkipped";   // the session whose offer was declined
  const RETRY_MS = 5000;

  class ApiError extends Error {
    constructor(status, message) {
      super(message || String(status));
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const key = sessionStorage.getItem(API_KEY);
    if (key) headers.Authorization = "Bearer " + key;
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (networkError) {
      throw new ApiError(0, words.offline);
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (notJson) { data = null; }
    }
    if (response.status === 401) {
      if (key) sessionStorage.removeItem(API_KEY);
      keyForm.hidden = false;
      throw new ApiError(401, key ? words.keyWrong : "");
    }
    if (!response.ok) throw new ApiError(response.status, data && data.error);
    return data;
  }

  // -- showing messages -----------------------------------------------------------------------
  // The composer stays over the bottom of the page: scrolling stops above it (see chat.css).
  function fitComposer() {
    document.documentElement.style.setProperty("--composer-height", `${composer.offsetHeight}px`);
  }

  function reveal(message) {
    fitComposer();
    message.scrollIntoView({ block: "end" });
  }

  function show(role, text) {
    const message = document.createElement("div");
    message.className = "message " + role;
    const paragraph = document.createElement("p");
    paragraph.className = "text";
    paragraph.textContent = text;
    message.append(paragraph);
    log.append(message);
    reveal(message);
    return message;
  }

  function showStaff(entry) {
    const message = show("staff", entry.text);
    const label = document.createElement("p");
    label.className = "who-said";
    label.textContent = words.staffLabel.replace("{staff}", entry.staff || "");
    message.prepend(label);
    reveal(message);
  }

  function showHandoff(handoff) {
    // A staff member joining, leaving or handing back: one line above the conversation.
    if (!handoff || handoff.state === handoffState) return;
    const said = { claimed: words.staffClaimed, resolved: words.staffResolved };
    if (handoff.state === "none" && handoffState === "claimed") said.none = words.staffReleased;
    handoffState = handoff.state;
    const text = said[handoff.state];
    staffStatus.textContent = text ? text.replace("{staff}", handoff.staff || "") : "";
    staffStatus.hidden = !text;
    if (handoff.state === "waiting" || handoff.state === "claimed") showBanner();
  }

  function showBanner() {
    // With --ask-contact, a person asked for (or sent to) a human may leave their details.
    banner.hidden = false;
    if (contactForm && !contactGiven && sessionStorage.getItem(CONTACT_SKIPPED) !== sessionId) {
      contactForm.hidden = false;
    }
  }

  async function sendContact() {
    const value = (id) => document.getElementById(id).value.trim() || undefined;
    try {
      await api("POST", `v1/sessions/${encodeURIComponent(sessionId)}/contact`, {
        name: value("contact-name"), phone: value("contact-phone"), email: value("contact-email"),
        consent: document.getElementById("contact-consent").checked,
      });
      contactGiven = true;
      contactForm.hidden = true;
      contactDone.hidden = false;
      showProblem("");
    } catch (error) {
      showProblem(error.message);
    }
  }

  function showReply(reply, placeholder) {
    const message = placeholder || show("bot", "");
    message.classList.remove("pending");
    message.querySelector(".text").textContent = reply.text;
    if (reply.handoff) {
      message.classList.add("handoff");
      showBanner();
    }
    if (reply.sources && reply.sources.length) message.append(sourcesList(reply.sources));
    showQuickReplies(reply.follow_up, reply.choices);
    reveal(message);
  }

  function sourcesList(ids) {
    const details = extras.content.firstElementChild.cloneNode(true);
    details.querySelector("summary").textContent = `${words.sources} (${ids.length})`;
    const list = details.querySelector("ul");
    for (const id of ids) {
      const item = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = id;
      const text = document.createElement("span");
      text.className = "source-text";
      item.append(code, " ", text);
      item.dataset.id = id;
      list.append(item);
    }
    details.addEventListener("toggle", () => { if (details.open) fillSources(list); });
    return details;
  }

  async function fillSources(list) {
    if (!sourceTexts) {
      for (const span of list.querySelectorAll(".source-text")) span.textContent = words.loadingSources;
      try {
        const data = await api("GET", "v1/sources");
        sourceTexts = Object.fromEntries(data.sources.map((s) => [s.id, s.text]));
      } catch (error) {
        for (const span of list.querySelectorAll(".source-text")) span.textContent = "";
        return;
      }
    }
    for (const item of list.children) {
      item.querySelector(".source-text").textContent = sourceTexts[item.dataset.id] || "";
    }
  }

  function showQuickReplies(followUp, offered) {
    // "Did you mean ...?" offers its topics as buttons; a yes/no question gets Yes / No / Not sure.
    for (const button of choices.querySelectorAll("button")) button.remove();
    const picks = Array.isArray(offered) ? offered : [];
    for (const choice of picks) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.say = choice;
      button.textContent = choice;
      choices.append(button);
    }
    choices.hidden = picks.length === 0;
    quick.hidden = picks.length > 0 || !followUp || ANSWERED_IN_WORDS.has(followUp);
  }

  function showProblem(text) {
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  // -- the conversation -----------------------------------------------------------------------
  async function newSession() {
    const data = await api("POST", "v1/sessions", {});
    sessionId = data.id;
    sessionStorage.setItem(SESSION_KEY, sessionId);
    seen = 0;
    handoffState = "none";
    follow(sessionId);
  }

  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  async function follow(id) {
    // Long polling, for as long as this conversation is the page's: the server answers when a
    // message arrives (or after a while with nothing new). The page shows the staff's messages
    // from here; its own messages and the bot's answers it shows when it sends.
    if (following === id) return;   // one loop per conversation
    following = id;
    while (sessionId === id && following === id) {
      try {
        const data = await api("GET", `v1/sessions/${encodeURIComponent(id)}/updates?after=${seen}` +
                                      (handoffState ? `&state=${handoffState}` : ""));
        if (sessionId !== id) return;
        seen += data.messages.length;
        for (const entry of data.messages) if (entry.role === "staff") showStaff(entry);
        showHandoff(data.handoff);
      } catch (error) {
        if (error.status === 404 || sessionId !== id) break;
        await sleep(RETRY_MS);
      }
    }
    if (following === id) following = null;
  }

  async function restore() {
    // After a reload: redraw the conversation so far (with each answer's sources, the handoff
    // banner and the quick replies of a question still open), or start afresh if it is gone.
    if (!sessionId) return;
    try {
      const data = await api("GET", `v1/sessions/${encodeURIComponent(sessionId)}`);
      contactGiven = Boolean(data.contact);
      for (const entry of data.transcript) {
        if (entry.role === "bot") showReply(entry);
        else if (entry.role === "staff") showStaff(entry);
        else show(entry.role, entry.text);
      }
      const last = data.transcript[data.transcript.length - 1];
      if (last && last.role !== "bot") showQuickReplies(null);
      seen = data.transcript.length;
      showHandoff(data.handoff);
      follow(sessionId);
    } catch (error) {
      if (error.status !== 404) throw error;
      sessionId = null;
      sessionStorage.removeItem(SESSION_KEY);
    }
  }

  async function send(text) {
    if (busy || !text.trim()) return;
    busy = true;
    sendButton.disabled = true;
    quick.hidden = true;
    choices.hidden = true;
    if (contactDone) contactDone.hidden = true;
    showProblem("");
    const mine = show("user", text);
    const placeholder = show("bot", words.thinking);
    placeholder.classList.add("pending");
    try {
      if (!sessionId) await newSession();
      let reply;
      try {
        reply = await api("POST", `v1/sessions/${encodeURIComponent(sessionId)}/messages`, { text });
      } catch (error) {
        if (error.status !== 404) throw error;
        await newSession();   // expired or deleted meanwhile: say so, carry on in a new one
        placeholder.remove();
        showProblem(words.expired);
        return;
      }
      if (reply.text === undefined && reply.handoff) {   // 202: a staff member will answer
        placeholder.remove();
        showHandoff(reply.handoff);
        mine.title = words.held.replace("{staff}", reply.handoff.staff || "");
        return;
      }
      showReply(reply, placeholder);
    } catch (error) {
      placeholder.remove();
      mine.remove();
      if (!input.value) input.value = text;   // nothing typed is lost: it goes back to be sent again
      showProblem(error.status === 0 || error.status === 401 ? error.message : words.failed);
    } finally {
      busy = false;
      sendButton.disabled = false;
      input.focus();
    }
  }

  function restart() {
    // With a conversation on the server, ask whether to delete it there too (it may hold health
    // details); without one there is nothing to ask.
    if (!sessionId) {
      startAfresh(false);
      return;
    }
    restartChoice.hidden = false;
    document.getElementById("restart-keep").focus();
  }

  async function startAfresh(deleteOld) {
    const old = sessionId;
    restartChoice.hidden = true;
    sessionStorage.removeItem(SESSION_KEY);
    sessionId = null;
    for (const message of [...log.querySelectorAll(".message:not(.intro)")]) message.remove();
    banner.hidden = true;
    staffStatus.hidden = true;
    handoffState = null;
    contactGiven = false;
    if (contactForm) {
      contactForm.hidden = true;
      contactDone.hidden = true;
    }
    quick.hidden = true;
    choices.hidden = true;
    showProblem("");
    input.focus();
    if (!deleteOld || !old) return;
    try {
      await api("DELETE", `v1/sessions/${encodeURIComponent(old)}`);
    } catch (error) {
      if (error.status !== 404) showProblem(words.deleteFailed);
    }
  }

  // -- wiring ----------------------------------------------------------------------------------
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  choices.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-say]");
    if (button) send(button.dataset.say);
  });
  quick.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-say]");
    if (button) send(button.dataset.say);
  });
  document.getElementById("restart").addEventListener("click", restart);
  document.getElementById("restart-delete").addEventListener("click", () => startAfresh(true));
  document.getElementById("restart-keep").addEventListener("click", () => startAfresh(false));
  document.getElementById("restart-cancel").addEventListener("click", () => {
    restartChoice.hidden = true;
    input.focus();
  });
  if (contactForm) {
    contactForm.addEventListener("submit", (event) => {
      event.preventDefault();
      sendContact();
    });
    document.getElementById("contact-skip").addEventListener("click", () => {
      sessionStorage.setItem(CONTACT_SKIPPED, sessionId);
      contactForm.hidden = true;
      input.focus();
    });
  }
  if (window.ResizeObserver) new ResizeObserver(fitComposer).observe(composer);
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(API_KEY, document.getElementById("key-value").value.trim());
    keyForm.hidden = true;
    showProblem("");
    restore().catch((error) => showProblem(error.message));
  });

  document.body.classList.add("ready");
  restore().catch((error) => showProblem(error.status === 401 ? error.message : words.failed));
})();
