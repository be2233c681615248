// A form that sends a file to a job's API endpoint (POST /api/v1/uploads or /inspections, with
// the session and its CSRF token) as multipart, every named field with it; then the page of the
// new job shows its progress. The API's field-level errors are shown on the form.

const form = document.querySelector("form[data-api]");
const error = document.getElementById("form-error");

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(form.dataset.api, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
      body: new FormData(form),
    });
    const answer = await response.json();
    if (response.ok) {
      window.location.assign(form.dataset.detail.replace("/0/", `/${answer.id}/`));
      return;
    }
    const problems = answer.errors?.length ? answer.errors : [{ message: answer.detail }];
    error.replaceChildren(...problems.map((problem) => {
      const line = document.createElement("span");
      const field = problem.field && form.elements[problem.field];
      if (field?.setAttribute) field.setAttribute("aria-invalid", "true");
      const label = field?.labels?.[0]?.firstChild?.textContent?.trim();
      line.textContent = label ? `${label}: ${problem.message}` : problem.message;
      return line;
    }));
    error.hidden = false;
  } catch {
    error.textContent = form.dataset.failed;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
