// A job's page follows the job (an upload or an inspection): it polls the job's API resource
// every second and moves the progress bar and the counts until the job has succeeded or failed.
// The page names the counts to follow in data-counts; each has an element with that id.

const job = document.getElementById("job");
const statuses = JSON.parse(document.getElementById("job-statuses").textContent);
const counts = job.dataset.counts.split(" ");

function show(id, visible) {
  const element = document.getElementById(id);
  if (element) element.hidden = !visible;
}

async function follow() {
  const response = await fetch(job.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    setTimeout(follow, 5000);
    return;
  }
  const state = await response.json();
  for (const name of counts) document.getElementById(name).textContent = state[name] ?? "";
  const progress = document.getElementById("job-progress");
  const finished = state.status === "succeeded" || state.status === "failed";
  progress.max = state.rows_total || 1;
  progress.value = state.status === "succeeded" ? progress.max : state.rows_done;
  const percent = Math.floor((100 * progress.value) / progress.max);
  document.getElementById("job-percent").textContent = `${percent}%`;
  document.getElementById("job-status").textContent = statuses[state.status] || state.status;
  show("job-errors", state.rejected_count);
  show("job-results", state.status === "succeeded");
  if (finished && job.dataset.reload === "true") window.location.reload();
  else if (!finished) setTimeout(follow, 1000);
}

if (job.dataset.finished !== "true") follow();
