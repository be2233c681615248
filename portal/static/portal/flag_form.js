// The page that files one flag: the identifier is normalized and keyed into its member token here
// (identifiers.js, Web Crypto) and put in the form's hidden token field; the identifier's own
// input has no name, so the form never sends it. The key file is read into memory only.

import { tokenFromFile } from "./identifiers.js";

const form = document.getElementById("new-flag");
const words = JSON.parse(document.getElementById("flag-words").textContent);
const error = document.getElementById("identifier-error");
const button = form.querySelector("button[type=submit]");

// A page restored by the browser's Back button can be sent again.
window.addEventListener("pageshow", () => {
  button.disabled = false;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (button.disabled) return;
  button.disabled = true;
  error.hidden = true;
  form.elements.token.value = "";
  try {
    const [file] = document.getElementById("key-file").files;
    const raw = document.getElementById("identifier").value;
    form.elements.token.value = await tokenFromFile(file, form.elements.id_type.value, raw);
  } catch (problem) {
    error.textContent = words.reasons[problem.reason] || words.reasons.other;
    error.hidden = false;
    button.disabled = false;
    return;
  }
  form.submit();
});
