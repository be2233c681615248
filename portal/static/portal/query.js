// The single-borrower query page: the identifier is normalized and keyed into its member token
// here (identifiers.js, Web Crypto), and only the token goes to POST /api/v1/queries. The key
// file is read into memory for the request and never leaves the page.

import { tokenFromFile } from "./identifiers.js";

const form = document.getElementById("query");
const words = JSON.parse(document.getElementById("query-words").textContent);
const error = document.getElementById("query-error");
const answer = document.getElementById("answer");

function show(message) {
  error.textContent = message;
  error.hidden = false;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function render(subject, token) {
  const rows = document.getElementById("answer-rows");
  rows.replaceChildren();
  for (const hit of subject.categories) {
    const tr = document.createElement("tr");
    tr.append(
      cell(words.categories[hit.category] || hit.category),
      cell(String(hit.institutions)),
      cell(hit.latest_event_month),
      cell(hit.disputed ? words.yes : words.no),
      cell(hit.resolved ? words.yes : words.no),
    );
    rows.append(tr);
  }
  document.getElementById("answer-summary").textContent = subject.hit ? words.hit : words.no_hit;
  const own = subject.own.map((flag) => `${words.categories[flag.category] || flag.category} (${flag.flags})`);
  document.getElementById("answer-own").textContent = own.length ? `${words.own}: ${own.join(", ")}` : "";
  document.getElementById("answer-token").textContent = token;
  answer.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  answer.hidden = true;
  const idType = document.getElementById("id-type").value;
  const raw = document.getElementById("identifier").value;
  let token;
  try {
    const [file] = document.getElementById("key-file").files;
    token = await tokenFromFile(file, idType, raw);
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
      subjects: [{ correlation_id: "portal", id_type: idType, token }],
    }),
  });
  const body = await response.json();
  if (!response.ok) {
    show(body.detail || words.reasons.other);
    return;
  }
  render(body.subjects[0], token);
});
