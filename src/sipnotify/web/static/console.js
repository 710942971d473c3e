// sipnotify console: plain JavaScript over the JSON API, no build step, no outside files.
"use strict";

const PREFIX = location.pathname.replace(/\/console\/.*$/, "");
const BASE = PREFIX + "/api/v1";
const $ = (selector) => document.querySelector(selector);
let session = null;      // who is signed in, with the CSRF token
let watching = null;     // the EventSource of the job on show
let shownJob = null;

function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

async function api(method, path, body) {
  const headers = {"X-Requested-With": "fetch"};
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (session) headers["X-CSRF-Token"] = session.csrf;
  }
  const response = await fetch(BASE + path, {
    method, headers, credentials: "same-origin",
    body: method === "GET" ? undefined : JSON.stringify(body ?? {}),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {error: response.statusText}; }
  return {status: response.status, data};
}

function show(view) {
  for (const name of ["sign-in", "phones", "jobs"]) {
    $(`#${name}-view`).hidden = name !== view;
  }
  $("#nav").hidden = view === "sign-in";
  for (const button of document.querySelectorAll("nav [data-view]")) {
    if (button.dataset.view === view) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
}

// -- signing in --------------------------------------------------------------------------

async function start() {
  const {status, data} = await api("GET", "/session");
  if (status === 200) return signedIn(data);
  show("sign-in");
  $("#username").focus();
}

async function signIn(event) {
  event.preventDefault();
  $("#sign-in-error").textContent = "";
  const {status, data} = await api("POST", "/session",
    {username: $("#username").value, secret: $("#secret").value});
  if (status !== 200) {
    $("#sign-in-error").textContent = data.error || "Sign-in failed";
    return;
  }
  $("#secret").value = "";
  signedIn(data);
}

function signedIn(who) {
  session = who;
  $("#who").textContent = `Signed in as ${who.username}`;
  show("phones");
  loadPhones();
  loadPresets();
}

async function loadPresets() {
  const {status, data} = await api("GET", "/presets");
  if (status !== 200) return;
  const select = $("#what");
  for (const old of select.querySelectorAll("option[value^='option:']")) old.remove();
  for (const preset of data.presets) {
    const option = document.createElement("option");
    option.value = `option:${preset.name}`;
    option.textContent = `Preset: ${preset.name}`;
    select.append(option);
  }
}

async function signOut() {
  await api("DELETE", "/session");
  session = null;
  if (watching) watching.close();
  show("sign-in");
}

// -- phones ------------------------------------------------------------------------------

async function loadPhones(event) {
  if (event) event.preventDefault();
  const query = new URLSearchParams({search: $("#search").value, status: $("#status").value});
  const {status, data} = await api("GET", `/endpoints?${query}`);
  if (status === 401) return start();
  const rows = [];
  let contacts = 0;
  const cell = (text, kind) => `<span role="cell"${kind ? ` class="${kind}"` : ""}>${text}</span>`;
  for (const endpoint of data.endpoints || []) {
    const name = escapeHtml(endpoint.name);
    const box = `<input type="checkbox" class="pick" value="${name}" aria-label="Choose ${name}">`;
    const list = endpoint.contacts.length ? endpoint.contacts : [null];
    list.forEach((contact, index) => {
      const pick = cell(index === 0 ? box : "");
      if (!contact) {
        rows.push(`<div role="row" class="row">${pick}${cell(name)}${cell("no contact")}</div>`);
        return;
      }
      contacts += 1;
      const rtt = contact.rtt_ms === null ? "" : `${contact.rtt_ms} ms`;
      const kind = contact.static ? " (static)" : "";
      const state = escapeHtml(contact.status);
      rows.push(`<div role="row" class="row">${pick}${cell(name)}` +
        `${cell(escapeHtml(contact.uri) + kind)}${cell(state, state)}${cell(rtt)}` +
        `${cell(escapeHtml(contact.user_agent))}</div>`);
    });
  }
  $("#phone-rows").innerHTML = rows.join("");
  $("#all").checked = false;
  $("#count").textContent = `${(data.endpoints || []).length} endpoints, ${contacts} contacts`;
}

function chosen() {
  return [...document.querySelectorAll("#phones .pick:checked")].map((box) => box.value);
}

function order() {
  const what = $("#what").value;
  const body = {endpoints: chosen()};
  if (what === "mwi") body.mwi = `${$("#mwi-new").value}/${$("#mwi-old").value}`;
  else if (what.startsWith("option:")) body.option = what.slice(7);
  else body.verb = what.slice(5);
  return body;
}

async function preview() {
  $("#send-error").textContent = "";
  if (!chosen().length) { $("#send-error").textContent = "Choose at least one phone."; return; }
  const {status, data} = await api("POST", "/jobs", {...order(), dry_run: true});
  if (status !== 200) { $("#send-error").textContent = data.error; return; }
  $("#preview-table tbody").innerHTML = data.phones.map((phone) =>
    `<tr><td>${escapeHtml(phone.endpoint)}</td><td>${escapeHtml(phone.uri)}</td>` +
    `<td>${escapeHtml(phone.vendor)}</td><td><pre>${escapeHtml(phone.request)}</pre></td></tr>`
  ).join("");
  $("#preview-view").hidden = false;
  $("#preview-title").focus();
}

async function send(event) {
  event.preventDefault();
  $("#send-error").textContent = "";
  if (!chosen().length) { $("#send-error").textContent = "Choose at least one phone."; return; }
  const body = {...order(), rate: Number($("#rate").value), confirm: $("#confirm").checked};
  const {status, data} = await api("POST", "/jobs", body);
  if (status !== 201) { $("#send-error").textContent = data.error; return; }
  $("#preview-view").hidden = true;
  openJob(data.job.id);
}

// -- jobs --------------------------------------------------------------------------------

async function loadJobs() {
  const {data} = await api("GET", "/jobs");
  $("#jobs tbody").innerHTML = (data.jobs || []).slice().reverse().map((job) =>
    `<tr><td><button type="button" class="open-job" data-id="${escapeHtml(job.id)}">` +
    `${escapeHtml(job.id)}</button></td><td>${escapeHtml(job.order)}</td><td>${job.total}</td>` +
    `<td>${escapeHtml(job.state)}</td><td>${job.counts.answered}</td>` +
    `<td>${job.counts.confirmed}</td><td>${job.counts.ignored}</td>` +
    `<td>${job.counts.failed}</td></tr>`).join("");
}

async function openJob(id) {
  show("jobs");
  shownJob = id;
  if (watching) watching.close();
  watching = new EventSource(`${BASE}/events?job=${encodeURIComponent(id)}`);
  watching.addEventListener("phone", () => refreshJob(id));
  watching.addEventListener("job", () => { refreshJob(id); watching.close(); loadJobs(); });
  await refreshJob(id);
  await loadJobs();
}

let refreshing = false;
let again = false;
async function refreshJob(id) {
  if (refreshing) { again = true; return; }   // one request at a time, the latest wins
  refreshing = true;
  try {
    const {status, data} = await api("GET", `/jobs/${encodeURIComponent(id)}`);
    if (status === 200 && id === shownJob) drawJob(data);
  } finally {
    refreshing = false;
    if (again) { again = false; refreshJob(id); }
  }
}

function drawJob({job, phones}) {
  $("#job-view").hidden = false;
  $("#job-title").textContent = `Job ${job.id}: ${job.order} (${job.selection})`;
  const settled = ["failed", "confirmed", "ignored"];
  if (!job.order.startsWith("reboot")) settled.push("answered");
  const done = phones.filter((p) => settled.includes(p.state)).length;
  $("#job-progress").max = Math.max(job.total, 1);
  $("#job-progress").value = done;
  const counts = Object.entries(job.counts).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`);
  $("#job-summary").textContent = `${job.state}: ${done} of ${job.total} settled; ${counts.join(", ")}`;
  $("#job-cancel").hidden = ["done", "cancelled"].includes(job.state);
  $("#job-phones tbody").innerHTML = phones.map((p) =>
    `<tr><td>${escapeHtml(p.endpoint)}</td><td>${escapeHtml(p.uri)}</td>` +
    `<td class="${escapeHtml(p.state)}">${escapeHtml(p.state)}</td>` +
    `<td>${p.status ?? ""}</td><td>${p.attempts}</td>` +
    `<td>${escapeHtml(p.user_agent_after)}</td></tr>`).join("");
}

async function cancelJob() {
  if (shownJob) await api("POST", `/jobs/${encodeURIComponent(shownJob)}/cancel`);
  if (shownJob) refreshJob(shownJob);
  loadJobs();
}

// -- wiring ------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#sign-in").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", signOut);
  $("#filter").addEventListener("submit", loadPhones);
  $("#send").addEventListener("submit", send);
  $("#preview").addEventListener("click", preview);
  $("#job-cancel").addEventListener("click", cancelJob);
  $("#what").addEventListener("change", () => { $("#mwi-counts").hidden = $("#what").value !== "mwi"; });
  $("#all").addEventListener("change", () => {
    for (const box of document.querySelectorAll("#phones .pick")) box.checked = $("#all").checked;
  });
  $("#jobs").addEventListener("click", (event) => {
    const button = event.target.closest(".open-job");
    if (button) openJob(button.dataset.id);
  });
  for (const button of document.querySelectorAll("nav [data-view]")) {
    button.addEventListener("click", () => {
      show(button.dataset.view);
      if (button.dataset.view === "jobs") loadJobs(); else loadPhones();
    });
  }
  $("#preview-title").tabIndex = -1;
  start();
});
