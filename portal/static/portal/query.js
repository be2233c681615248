// The single-borrower query page: each identifier is normalized and keyed into its member token
// here (identifiers.js, Web Crypto), and only the tokens go to POST /api/v1/queries, as one subject
// of one to five identifiers. The key file is read into memory for the request and never leaves the page.

import { tokenFromFile } from "./identifiers.js";

const form = document.getElementById("query");
const words = JSON.parse(document.getElementById("query-words").textContent);
const error = document.getElementById("query-error");
const answer = document.getElementById("answer");
const fieldset = document.getElementById("identifiers");
const addButton = document.getElementById("add-identifier");
const most = Number(form.dataset.most);

function show(message) {
  error.textContent = message;
  error.hidden = false;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function rows() {
  return [...fieldset.querySelectorAll(".identifier-row")];
}

function refresh() {
  addButton.disabled = rows().length >= most;
}

addButton.addEventListener("click", () => {
  if (rows().length >= most) return;
  const row = document.getElementById("identifier-template").content.firstElementChild.cloneNode(true);
  const n = rows().length + 1;
  const [typeLabel, valueLabel] = row.querySelectorAll("label");
  const select = row.querySelector(".id-type");
  const input = row.querySelector(".identifier");
  select.id = `id-type-${n}`;
  input.id = `identifier-${n}`;
  typeLabel.htmlFor = select.id;
  valueLabel.htmlFor = input.id;
  // Offer first a type no other row has taken.
  const taken = new Set(rows().map((other) => other.querySelector(".id-type").value));
  const free = [...select.options].find((option) => !taken.has(option.value));
  if (free) select.value = free.value;
  row.querySelector(".remove-identifier").addEventListener("click", () => {
    row.remove();
    refresh();
  });
  fieldset.append(row);
  refresh();
  input.focus();
});

function renderLending(subject, note) {
  const table = document.getElementById("lending");
  const noteLine = document.getElementById("lending-note");
  const others = document.getElementById("lending-others");
  const own = document.getElementById("lending-own");
  others.replaceChildren();
  own.replaceChildren();
  noteLine.hidden = true;
  table.hidden = true;
  if (!subject.lending) {
    noteLine.textContent = note ? note.message : "";
    noteLine.hidden = !note;
    return;
  }
  for (const [figure, value] of Object.entries(subject.lending)) {
    const tr = document.createElement("tr");
    const shown = figure === "open_amount_band" ? words.bands[value] || words.none : String(value);
    tr.append(cell(words.figures[figure] || figure), cell(shown));
    (figure.startsWith("own_") ? own : others).append(tr);
  }
  table.hidden = false;
}

function render(body, tokens) {
  const subject = body.subjects[0];
  const categories = document.getElementById("answer-rows");
  categories.replaceChildren();
  for (const hit of subject.categories) {
    const tr = document.createElement("tr");
    tr.append(
      cell(words.categories[hit.category] || hit.category),
      cell(String(hit.institutions)),
      cell(hit.latest_event_month),
      cell(hit.disputed ? words.yes : words.no),
      cell(hit.resolved ? words.yes : words.no),
    );
    categories.append(tr);
  }
  document.getElementById("answer-summary").textContent = subject.hit ? words.hit : words.no_hit;
  const own = subject.own.map((flag) => `${words.categories[flag.category] || flag.category} (${flag.flags})`);
  document.getElementById("answer-own").textContent = own.length ? `${words.own}: ${own.join(", ")}` : "";
  renderLending(subject, body.lending_note);
  document.getElementById("answer-token").textContent = tokens.join(", ");
  answer.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  answer.hidden = true;
  const given = rows().map((row) => ({
    idType: row.querySelector(".id-type").value,
    raw: row.querySelector(".identifier").value,
  }));
  if (new Set(given.map((item) => item.idType)).size !== given.length) {
    show(words.duplicate_type);
    return;
  }
  const identifiers = [];
  try {
    const [file] = document.getElementById("key-file").files;
    for (const { idType, raw } of given) {
      identifiers.push({ id_type: idType, token: await tokenFromFile(file, idType, raw) });
    }
  } catch (problem) {
    show(words.reasons[problem.reason] || words.reasons.other);
    return;
  }
  const response = await fetch(form.dataset.api, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": form.elements.csrfmiddlewaretoken.value,
    },
    body: JSON.stringify({
      purpose: document.getElementById("purpose").value,
      consent_reference: document.getElementById("consent").value,
      subjects: [{ correlation_id: "portal", identifiers }],
    }),
  });
  const body = await response.json();
  if (!response.ok) {
    show(body.detail || words.reasons.other);
    return;
  }
  render(body, identifiers.map((item) => item.token));
});

refresh();
