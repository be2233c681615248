// The page that files one flag: each of the borrower's one to five identifiers is normalized and
// keyed into its member token here (identifiers.js, Web Crypto) and put in its row's hidden token
// field; the identifiers' own inputs have no name, so the form never sends them. The key file is
// read into memory only. The rows are on the page from the start; "Add identifier" shows the next
// one, "Remove" hides one again and empties it.

import { tokenFromFile } from "./identifiers.js";

const form = document.getElementById("new-flag");
const words = JSON.parse(document.getElementById("flag-words").textContent);
const error = document.getElementById("identifier-error");
const button = form.querySelector("button[type=submit]");
const addButton = document.getElementById("add-identifier");
const rows = [...document.querySelectorAll("#identifiers .identifier-row")];

// A row's type select and hidden token field: the first row's are id_type and token, then id_type_2 ...
const typeOf = (row) => row.querySelector("select");
const tokenOf = (row) => row.querySelector("input[type=hidden]");
const shown = () => rows.filter((row) => !row.hidden);

function refresh() {
  addButton.disabled = shown().length >= rows.length;
}

addButton.addEventListener("click", () => {
  const row = rows.find((candidate) => candidate.hidden);
  if (!row) return;
  // Offer first a type no other row has taken.
  const taken = new Set(shown().map((other) => typeOf(other).value));
  const free = [...typeOf(row).options].find((option) => option.value && !taken.has(option.value));
  typeOf(row).value = free ? free.value : "";
  row.hidden = false;
  row.querySelector(".identifier").required = true;
  for (const row of shown()) row.querySelector(".identifier").required = true; // rows kept after a refusal
refresh();
  row.querySelector(".identifier").focus();
});

for (const row of rows) {
  const remove = row.querySelector(".remove-identifier");
  if (!remove) continue;
  remove.addEventListener("click", () => {
    row.hidden = true;
    row.querySelector(".identifier").required = false;
    typeOf(row).value = "";
    tokenOf(row).value = "";
    row.querySelector(".identifier").value = "";
    for (const row of shown()) row.querySelector(".identifier").required = true; // rows kept after a refusal
refresh();
  });
}

// A page restored by the browser's Back button can be sent again.
window.addEventListener("pageshow", () => {
  button.disabled = false;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (button.disabled) return;
  button.disabled = true;
  error.hidden = true;
  for (const row of rows) {
    tokenOf(row).value = "";
    if (row.hidden) typeOf(row).value = ""; // a removed row sends no identifier
  }
  const given = shown();
  const types = given.map((row) => typeOf(row).value);
  try {
    if (types.includes("")) throw Object.assign(new Error("type"), { reason: "type_required" });
    if (new Set(types).size !== types.length) throw Object.assign(new Error("types"), { reason: "duplicate_type" });
    const [file] = document.getElementById("key-file").files;
    for (const row of given) {
      tokenOf(row).value = await tokenFromFile(file, typeOf(row).value, row.querySelector(".identifier").value);
    }
  } catch (problem) {
    for (const row of rows) tokenOf(row).value = "";
    error.textContent = words[problem.reason] || words.reasons[problem.reason] || words.reasons.other;
    error.hidden = false;
    button.disabled = false;
    return;
  }
  form.submit();
});

for (const row of shown()) row.querySelector(".identifier").required = true; // rows kept after a refusal
refresh();
