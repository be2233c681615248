// The upload form: the file goes to POST /api/v1/uploads (session + CSRF) as multipart, then
// the page of the new job shows its progress.

const form = document.getElementById("upload");
const error = document.getElementById("upload-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = new FormData();
  body.append("file", document.getElementById("upload-file").files[0]);
  const response = await fetch(form.dataset.api, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
    body,
  });
  const answer = await response.json();
  if (!response.ok) {
    error.textContent = answer.errors?.[0]?.message || answer.detail;
    error.hidden = false;
    return;
  }
  window.location.assign(form.dataset.detail.replace("/0/", `/${answer.id}/`));
});
