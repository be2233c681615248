// The portal's progressive behaviour, as a module from the platform's own origin: the
// Content-Security-Policy allows no inline script. Every page works without it.

// A select marked data-submit-on-change submits its form when changed (the language switch).
for (const select of document.querySelectorAll("select[data-submit-on-change]")) {
  select.addEventListener("change", () => select.form.submit());
}
